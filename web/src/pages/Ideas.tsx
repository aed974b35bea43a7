// The person's ideas: create one (it opens as a conversation), rename, delete.

import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { ApiError, api } from '../api/client';
import type { Idea } from '../api/types';
import { Field, FormError } from '../components/Field';

const PHASE_LABEL: Record<Idea['status'], string> = {
  ideation: 'Ideation',
  specification: 'Specification',
  building: 'Building',
  live: 'Live',
};

export function IdeasPage() {
  const navigate = useNavigate();
  const [ideas, setIdeas] = useState<Idea[] | null>(null);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api.ideas().then(setIdeas, (e: unknown) => setError(e instanceof ApiError ? e.message : 'Could not load your ideas.'));
  }, []);

  async function create(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      const idea = await api.createIdea(name.trim() || 'Untitled idea');
      navigate(`/ideas/${idea.id}`);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not create the idea.');
    }
  }

  return (
    <section className="page">
      <h1>Your ideas</h1>
      <form className="inline-form" onSubmit={create}>
        <FormError message={error} />
        <Field
          label="Name a new idea"
          placeholder="A booking page for my bike repair shop"
          value={name}
          maxLength={200}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit">Start</button>
      </form>
      {ideas === null ? (
        <p role="status">Loading…</p>
      ) : ideas.length === 0 ? (
        <p>No ideas yet. Name one above and describe it to the agents.</p>
      ) : (
        <ul className="idea-list">
          {ideas.map((idea) => (
            <IdeaRow
              key={idea.id}
              idea={idea}
              onChanged={(changed) => setIdeas((all) => all?.map((i) => (i.id === changed.id ? changed : i)) ?? null)}
              onDeleted={() => setIdeas((all) => all?.filter((i) => i.id !== idea.id) ?? null)}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

function IdeaRow({ idea, onChanged, onDeleted }: { idea: Idea; onChanged: (idea: Idea) => void; onDeleted: () => void }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(idea.name);
  const [error, setError] = useState<string | null>(null);
  const canChange = idea.role !== 'viewer';

  async function rename(event: FormEvent) {
    event.preventDefault();
    try {
      onChanged(await api.updateIdea(idea.id, { name: name.trim() }));
      setEditing(false);
      setError(null);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not rename it.');
    }
  }

  async function remove() {
    if (!window.confirm(`Delete “${idea.name}” and everything in it?`)) return;
    try {
      await api.deleteIdea(idea.id);
      onDeleted();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not delete it.');
    }
  }

  return (
    <li className="idea-row">
      {editing ? (
        <form className="inline-form" onSubmit={rename}>
          <Field label={`New name for ${idea.name}`} value={name} autoFocus maxLength={200} onChange={(e) => setName(e.target.value)} />
          <button type="submit">Save</button>
          <button type="button" className="secondary" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <>
          <Link to={`/ideas/${idea.id}`} className="idea-name">
            {idea.name}
          </Link>
          <span className={`phase phase-${idea.status}`}>{PHASE_LABEL[idea.status]}</span>
          <span className="role">{idea.role}</span>
          {canChange && (
            <button type="button" className="secondary" onClick={() => setEditing(true)} aria-label={`Rename ${idea.name}`}>
              Rename
            </button>
          )}
          {idea.role === 'owner' && (
            <button type="button" className="danger" onClick={() => void remove()} aria-label={`Delete ${idea.name}`}>
              Delete
            </button>
          )}
        </>
      )}
      <FormError message={error} />
    </li>
  );
}
