// The app's spec: readable by everyone (SpecReadable, with the JSON behind a disclosure), editable by
// owners and collaborators as a form (SpecForm) or, for power users, as JSON; each save is a new
// version. The owner confirms a version (a build needs a confirmed spec).

import { useEffect, useRef, useState } from 'react';
import { ApiError, api } from '../api/client';
import { asAppSpec, type AppSpec } from '../api/spec';
import type { IdeaRole, SpecView, StoredEvent } from '../api/types';
import { FormError } from './Field';
import { SpecForm } from './SpecForm';
import { SpecReadable } from './SpecReadable';

interface Props {
  ideaId: string;
  role: IdeaRole;
  subscribe: (listener: (event: StoredEvent) => void) => () => void;
  /** Told the spec as loaded, saved or confirmed (null: none yet), e.g. so the build knows it may start. */
  onSpec?: (spec: SpecView | null) => void;
}

type Mode = 'view' | 'form' | 'json';

const NOT_JSON = 'The spec is not valid JSON.';

export function SpecPanel({ ideaId, role, subscribe, onSpec }: Props) {
  const [spec, setSpec] = useState<SpecView | null | undefined>(undefined);
  const [mode, setMode] = useState<Mode>('view');
  const [draft, setDraft] = useState<AppSpec | null>(null);
  const [text, setText] = useState('');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const canWrite = role !== 'viewer';
  const told = useRef(onSpec);
  told.current = onSpec;
  const editing = useRef(false);
  editing.current = mode !== 'view';

  useEffect(() => {
    if (spec !== undefined) told.current?.(spec);
  }, [spec]);

  async function load() {
    try {
      setSpec(await api.spec(ideaId));
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 404) setSpec(null);
      else setError(failure instanceof ApiError ? failure.message : 'Could not load the spec.');
    }
  }

  useEffect(() => {
    void load();
    // An agent writing the spec announces it; reload unless the person is editing (their draft stays).
    return subscribe((event) => {
      if (event.idea_id === ideaId && event.type === 'agent:message' && !editing.current) void load();
    });
  }, [ideaId]);

  function startEditing(current: SpecView) {
    setError(null);
    setNotice(null);
    const form = asAppSpec(current.spec);
    if (form) {
      setDraft(JSON.parse(JSON.stringify(form)) as AppSpec);
      setMode('form');
    } else {
      startJson(current);
    }
  }

  function startJson(current: SpecView) {
    setError(null);
    setNotice(null);
    setText(JSON.stringify(current.spec, null, 2));
    setMode('json');
  }

  function parseText(): { ok: true; value: unknown } | { ok: false } {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      setError(NOT_JSON);
      return { ok: false };
    }
  }

  function toJson() {
    setError(null);
    setText(JSON.stringify(draft, null, 2));
    setMode('json');
  }

  function toForm() {
    setError(null);
    const parsed = parseText();
    if (!parsed.ok) return;
    const form = asAppSpec(parsed.value);
    if (!form) {
      setError('The form cannot show this JSON: it needs the app, its entities with their fields, roles and permissions.');
      return;
    }
    setDraft(form);
    setMode('form');
  }

  async function save(value: unknown) {
    setError(null);
    setSaving(true);
    try {
      const view = await api.saveSpec(ideaId, value, spec?.version ?? 0);
      setSpec(view);
      setMode('view');
      setDraft(null);
      setNotice(`Saved as version ${view.version}.`);
    } catch (failure) {
      // The draft (form or JSON) stays as it is, so nothing typed is lost.
      setError(failure instanceof ApiError ? failure.message : 'Could not save the spec.');
    } finally {
      setSaving(false);
    }
  }

  function saveJson() {
    setError(null);
    const parsed = parseText();
    if (parsed.ok) void save(parsed.value);
  }

  function cancel() {
    setError(null);
    setDraft(null);
    setMode('view');
  }

  async function confirm() {
    if (!spec) return;
    setError(null);
    setNotice(null);
    try {
      setSpec(await api.confirmSpec(ideaId, spec.version));
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not confirm the spec.');
    }
  }

  const readable = spec ? asAppSpec(spec.spec) : null;
  return (
    <section className="panel" aria-labelledby="spec-title">
      <h2 id="spec-title">Spec</h2>
      {mode === 'view' && <FormError message={error} />}
      {notice && <p role="status">{notice}</p>}
      {spec === undefined && <p role="status">Loading…</p>}
      {spec === null && <p>No spec yet: the agents write it from the conversation.</p>}
      {spec && (
        <>
          <p role="status" className="spec-status">
            {spec.confirmed ? `Version ${spec.version} confirmed.` : `Version ${spec.version}, not confirmed yet.`}
          </p>
          {mode === 'form' && draft && (
            <SpecForm spec={draft} onChange={(change) => setDraft((current) => current && change(current))} error={error}
              saving={saving} onSave={() => void save(draft)} onJson={toJson} onCancel={cancel} />
          )}
          {mode === 'json' && (
            <>
              <label htmlFor="spec-json">Spec (JSON)</label>
              <textarea id="spec-json" className="code" rows={16} value={text} onChange={(e) => setText(e.target.value)} />
              <FormError message={error} />
              <div className="actions">
                <button type="button" onClick={saveJson} disabled={saving}>
                  Save as a new version
                </button>
                <button type="button" className="secondary" onClick={toForm}>
                  Edit as a form
                </button>
                <button type="button" className="secondary" onClick={cancel}>
                  Cancel
                </button>
              </div>
            </>
          )}
          {mode === 'view' && (
            <>
              <div className="actions">
                {canWrite && (
                  <button type="button" className="secondary" onClick={() => startEditing(spec)}>
                    Edit
                  </button>
                )}
                {canWrite && readable && (
                  <button type="button" className="secondary" onClick={() => startJson(spec)}>
                    Edit as JSON
                  </button>
                )}
                {role === 'owner' && !spec.confirmed && (
                  <button type="button" onClick={() => void confirm()}>
                    Confirm this spec
                  </button>
                )}
              </div>
              {readable ? (
                <SpecReadable spec={readable} />
              ) : (
                <p>This spec is not in the usual shape, so it can only be shown as JSON.</p>
              )}
              <details className="spec-json" open={!readable}>
                <summary>The spec as JSON</summary>
                <pre className="code" tabIndex={0} aria-label="The spec as JSON">
                  {JSON.stringify(spec.spec, null, 2)}
                </pre>
              </details>
            </>
          )}
        </>
      )}
    </section>
  );
}
