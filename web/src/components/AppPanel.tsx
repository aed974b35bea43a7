// The idea's live app: a preview and a link, versions with one-click rollback, pause and resume,
// request and error counts, recent logs.

import { useCallback, useEffect, useState } from 'react';
import { ApiError, api } from '../api/client';
import type { App, AppMetrics, AppVersion, LogLine, StoredEvent } from '../api/types';
import { FormError } from './Field';

interface Props {
  ideaId: string;
  subscribe: (listener: (event: StoredEvent) => void) => () => void;
}

export function AppPanel({ ideaId, subscribe }: Props) {
  const [app, setApp] = useState<App | null | undefined>(undefined);
  const [versions, setVersions] = useState<AppVersion[]>([]);
  const [metrics, setMetrics] = useState<AppMetrics | null>(null);
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const found = (await api.apps()).find((a) => a.idea_id === ideaId) ?? null;
      setApp(found);
      if (!found) return;
      const [v, m, l] = await Promise.all([api.appVersions(found.id), api.metrics(found.id), api.logs(found.id)]);
      setVersions(v);
      setMetrics(m);
      setLogs(l);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not load the app.');
    }
  }, [ideaId]);

  useEffect(() => {
    void load();
    return subscribe((event) => {
      if (event.type === 'app:status' && (event.idea_id === ideaId || event.app_id === app?.id)) void load();
    });
  }, [load, subscribe, ideaId, app?.id]);

  async function act(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
      await load();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'That did not work.');
    }
  }

  if (app === undefined) return <p role="status">Loading the app…</p>;
  if (app === null)
    return (
      <section className="panel" aria-labelledby="app-title">
        <h2 id="app-title">App</h2>
        <p>The app appears here once it is built.</p>
      </section>
    );
  const canManage = app.role === 'owner';
  const preview = `/apps/${app.slug}/`;
  return (
    <section className="panel app-panel" aria-labelledby="app-title">
      <h2 id="app-title">App: {app.name}</h2>
      <FormError message={error} />
      <p>
        Status: <strong>{app.status}</strong>.{' '}
        <a href={preview} target="_blank" rel="noreferrer">
          Open {app.name} in a new tab
        </a>
      </p>
      {canManage && (
        <div className="actions">
          {app.status === 'paused' ? (
            <button type="button" onClick={() => void act(() => api.resume(app.id))}>
              Resume
            </button>
          ) : (
            <button type="button" className="secondary" onClick={() => void act(() => api.pause(app.id))}>
              Pause
            </button>
          )}
        </div>
      )}
      <iframe className="preview" title={`Preview of ${app.name}`} src={preview} sandbox="allow-forms allow-scripts allow-same-origin" />
      {metrics && (
        <dl className="metrics">
          <dt>Requests ({metrics.window_hours} h)</dt>
          <dd>{metrics.requests}</dd>
          <dt>Errors</dt>
          <dd>{metrics.errors}</dd>
          <dt>Page views</dt>
          <dd>{metrics.page_views}</dd>
          <dt>CPU</dt>
          <dd>{metrics.cpu_ms} ms</dd>
        </dl>
      )}
      <h3>Versions</h3>
      <table>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Created</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.id}>
              <td>{v.number}</td>
              <td>{new Date(v.created_at).toLocaleString()}</td>
              <td>
                {v.live ? (
                  'Live'
                ) : canManage ? (
                  <button type="button" className="secondary" onClick={() => void act(() => api.rollback(app.id, v.number))}>
                    Roll back to {v.number}
                  </button>
                ) : (
                  '—'
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Recent logs</h3>
      {logs.length === 0 ? (
        <p>No log lines yet.</p>
      ) : (
        <pre className="code logs" tabIndex={0} aria-label="Recent log lines">
          {logs.map((l) => `${l.at} ${l.level} ${l.source} ${l.message}`).join('\n')}
        </pre>
      )}
    </section>
  );
}
