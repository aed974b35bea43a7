// The app's spec: readable, editable as JSON by owners and collaborators (each save is a new
// version), confirmed by the owner (a build needs a confirmed spec).

import { useEffect, useRef, useState } from 'react';
import { ApiError, api } from '../api/client';
import type { IdeaRole, SpecView, StoredEvent } from '../api/types';
import { FormError } from './Field';

interface Props {
  ideaId: string;
  role: IdeaRole;
  subscribe: (listener: (event: StoredEvent) => void) => () => void;
  /** Told the spec as loaded, saved or confirmed (null: none yet), e.g. so the build knows it may start. */
  onSpec?: (spec: SpecView | null) => void;
}

export function SpecPanel({ ideaId, role, subscribe, onSpec }: Props) {
  const [spec, setSpec] = useState<SpecView | null | undefined>(undefined);
  const [text, setText] = useState('');
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const canWrite = role !== 'viewer';
  const told = useRef(onSpec);
  told.current = onSpec;

  useEffect(() => {
    if (spec !== undefined) told.current?.(spec);
  }, [spec]);

  async function load() {
    try {
      const view = await api.spec(ideaId);
      setSpec(view);
      setText(JSON.stringify(view.spec, null, 2));
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 404) setSpec(null);
      else setError(failure instanceof ApiError ? failure.message : 'Could not load the spec.');
    }
  }

  useEffect(() => {
    void load();
    // An agent writing the spec announces it; reload unless the person is editing.
    return subscribe((event) => {
      if (event.idea_id === ideaId && event.type === 'agent:message' && !editing) void load();
    });
  }, [ideaId, editing]);

  async function save() {
    setError(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      setError('The spec is not valid JSON.');
      return;
    }
    try {
      const view = await api.saveSpec(ideaId, parsed, spec?.version ?? 0);
      setSpec(view);
      setEditing(false);
      setNotice(`Saved as version ${view.version}.`);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not save the spec.');
    }
  }

  async function confirm() {
    if (!spec) return;
    setError(null);
    try {
      setSpec(await api.confirmSpec(ideaId, spec.version));
      setNotice(`Version ${spec.version} confirmed.`);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not confirm the spec.');
    }
  }

  return (
    <section className="panel" aria-labelledby="spec-title">
      <h2 id="spec-title">Spec</h2>
      <FormError message={error} />
      {notice && <p role="status">{notice}</p>}
      {spec === undefined && <p role="status">Loading…</p>}
      {spec === null && <p>No spec yet: the agents write it from the conversation.</p>}
      {spec && (
        <>
          <p>
            Version {spec.version}, {spec.confirmed ? 'confirmed' : 'not confirmed yet'}.
          </p>
          {editing ? (
            <>
              <label htmlFor="spec-json">Spec (JSON)</label>
              <textarea id="spec-json" className="code" rows={16} value={text} onChange={(e) => setText(e.target.value)} />
              <div className="actions">
                <button type="button" onClick={() => void save()}>
                  Save as a new version
                </button>
                <button type="button" className="secondary" onClick={() => setEditing(false)}>
                  Cancel
                </button>
              </div>
            </>
          ) : (
            <>
              <pre className="code" tabIndex={0} aria-label="The spec as JSON">
                {JSON.stringify(spec.spec, null, 2)}
              </pre>
              <div className="actions">
                {canWrite && (
                  <button type="button" className="secondary" onClick={() => setEditing(true)}>
                    Edit
                  </button>
                )}
                {role === 'owner' && !spec.confirmed && (
                  <button type="button" onClick={() => void confirm()}>
                    Confirm this spec
                  </button>
                )}
              </div>
            </>
          )}
        </>
      )}
    </section>
  );
}
