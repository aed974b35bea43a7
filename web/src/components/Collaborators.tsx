// The people of an idea: owners invite by email with a role and remove people; others only see.

import { useEffect, useState, type FormEvent } from 'react';
import { ApiError, api } from '../api/client';
import type { Collaborator, IdeaRole } from '../api/types';
import { Field, FormError } from './Field';

export function Collaborators({ ideaId, role }: { ideaId: string; role: IdeaRole }) {
  const [people, setPeople] = useState<Collaborator[] | null>(null);
  const [email, setEmail] = useState('');
  const [inviteRole, setInviteRole] = useState<'collaborator' | 'viewer'>('viewer');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const isOwner = role === 'owner';

  useEffect(() => {
    api.collaborators(ideaId).then(setPeople, (failure: unknown) => {
      setPeople([]);
      if (!(failure instanceof ApiError && failure.status === 403)) setError('Could not load the people of this idea.');
    });
  }, [ideaId]);

  async function invite(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      const { collaborator, mail_sent } = await api.invite(ideaId, email.trim(), inviteRole);
      setPeople((all) => [...(all ?? []).filter((p) => p.email !== collaborator.email), collaborator]);
      setNotice(`${collaborator.email} is invited as ${collaborator.role}${mail_sent ? '; an invitation mail is on its way' : ''}.`);
      setEmail('');
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not invite them.');
    }
  }

  async function remove(person: Collaborator) {
    setError(null);
    try {
      await api.removeCollaborator(ideaId, person.email);
      setPeople((all) => all?.filter((p) => p.email !== person.email) ?? null);
      setNotice(`${person.email} is removed.`);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not remove them.');
    }
  }

  return (
    <section className="panel" aria-labelledby="people-title">
      <h2 id="people-title">People</h2>
      <FormError message={error} />
      {notice && <p role="status">{notice}</p>}
      {people === null ? (
        <p role="status">Loading…</p>
      ) : (
        <ul className="people">
          {people.map((person) => (
            <li key={person.email}>
              <span>{person.name || person.email}</span> <span className="role">{person.role}</span>
              {!person.user_id && <span className="hint"> (invited)</span>}
              {isOwner && person.role !== 'owner' && (
                <button type="button" className="link-button" onClick={() => void remove(person)} aria-label={`Remove ${person.email}`}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {isOwner && (
        <form className="inline-form" onSubmit={invite}>
          <Field label="Invite by email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          <div className="field">
            <label htmlFor="invite-role">Role</label>
            <select id="invite-role" value={inviteRole} onChange={(e) => setInviteRole(e.target.value as 'collaborator' | 'viewer')}>
              <option value="viewer">Viewer: sees, cannot change</option>
              <option value="collaborator">Collaborator: talks and edits</option>
            </select>
          </div>
          <button type="submit">Invite</button>
        </form>
      )}
    </section>
  );
}
