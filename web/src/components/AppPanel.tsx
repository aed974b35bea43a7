// The idea's live app: its health, a preview and a link to open it on its own host, pause and resume, request and error
// counts and charts over a chosen window,
// each version with the test report of the build that made it, one-click rollback and a download of
// its code, recent logs. It reloads when the app's status changes and when a build finishes.

import { useCallback, useEffect, useState } from 'react';
import { ApiError, api } from '../api/client';
import type { App, AppHealth, AppMetrics, AppVersion, Build, LogLine, StoredEvent } from '../api/types';
import { FormError } from './Field';
import { TestReportView } from './TestReport';
import { TrafficChart } from './TrafficChart';

interface Props {
  ideaId: string;
  subscribe: (listener: (event: StoredEvent) => void) => () => void;
  /** Changes when something outside (a finished build) means the app may have changed. */
  refresh?: unknown;
}

/** How often the traffic numbers refresh while the page is in view. */
const METRICS_REFRESH_MS = 30_000;

/** The metrics windows offered, in hours, with their names. */
const WINDOWS: [number, string][] = [
  [1, 'Last hour'],
  [24, 'Last 24 hours'],
  [24 * 7, 'Last 7 days'],
  [24 * 30, 'Last 30 days'],
];

const HEALTH: Record<AppHealth, string> = {
  healthy: 'healthy: its health check answers',
  failing: 'failing: its health check does not answer',
  unknown: 'not checked yet',
};

/** Whether the event means the app (or its versions) may have changed. */
function changesTheApp(event: StoredEvent, ideaId: string, appId: string | undefined): boolean {
  if (event.type === 'app:status') return event.idea_id === ideaId || (appId !== undefined && event.app_id === appId);
  if (event.type === 'build:progress' && event.idea_id === ideaId)
    return event.data.final === true || (event.data.stage === 'live' && event.data.status === 'done');
  return false;
}

export function AppPanel({ ideaId, subscribe, refresh }: Props) {
  const [app, setApp] = useState<App | null | undefined>(undefined);
  const [versions, setVersions] = useState<AppVersion[]>([]);
  const [builds, setBuilds] = useState<Record<string, Build | null>>({});
  const [metrics, setMetrics] = useState<AppMetrics | null>(null);
  const [hours, setHours] = useState(24);
  const [logs, setLogs] = useState<LogLine[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const found = (await api.apps()).find((a) => a.idea_id === ideaId) ?? null;
      setApp(found);
      if (!found) return;
      const [v, m, l] = await Promise.all([api.appVersions(found.id), api.metrics(found.id, hours), api.logs(found.id)]);
      setVersions(v);
      setMetrics(m);
      setLogs(l);
      // Each version's test report comes from the build that made it; a build that cannot be read
      // leaves its version without one.
      const ids = [...new Set(v.map((version) => version.build_id).filter((id): id is string => !!id))];
      const loaded = await Promise.all(ids.map((id) => api.build(id).catch(() => null)));
      setBuilds(Object.fromEntries(ids.map((id, i) => [id, loaded[i]])));
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not load the app.');
    }
  }, [ideaId, hours]);

  useEffect(() => {
    void load();
  }, [load, refresh]);

  // Traffic has no event of its own: while the page is in view, the numbers refresh now and then.
  useEffect(() => {
    if (!app) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      api.metrics(app.id, hours).then(setMetrics, () => undefined);
    }, METRICS_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [app?.id, hours]);

  useEffect(
    () =>
      subscribe((event) => {
        if (changesTheApp(event, ideaId, app?.id)) void load();
      }),
    [load, subscribe, ideaId, app?.id],
  );

  async function act(action: () => Promise<unknown>, done: string) {
    setError(null);
    setNotice(null);
    try {
      await action();
      await load();
      setNotice(done);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'That did not work.');
    }
  }

  if (app === undefined)
    return (
      <section className="panel" aria-labelledby="app-title">
        <h2 id="app-title">App</h2>
        <FormError message={error} />
        {!error && <p role="status">Loading the app…</p>}
      </section>
    );
  if (app === null)
    return (
      <section className="panel" aria-labelledby="app-title">
        <h2 id="app-title">App</h2>
        <p>The app appears here once it is built.</p>
      </section>
    );
  const canManage = app.role === 'owner';
  const preview = `/apps/${app.slug}/`;
  const health = app.health ?? 'unknown';
  const live = versions.find((v) => v.live);
  return (
    <section className="panel app-panel" aria-labelledby="app-title">
      <h2 id="app-title">App: {app.name}</h2>
      <FormError message={error} />
      {notice && <p role="status">{notice}</p>}
      <p>
        Status: <strong>{app.status}</strong>
        {(app.live_version ?? live?.number) != null && <> · version {app.live_version ?? live?.number} is live</>}
        {' · '}health: <strong className={`health health-${health}`}>{HEALTH[health]}</strong>.{' '}
        {/* On its own host the app is its own origin and knows who you are; on Vibe's address it is
            confined to an opaque origin, where it can show pages but not take forms. */}
        <a href={api.openUrl(app.id)} target="_blank" rel="noreferrer">
          Open {app.name} in a new tab
        </a>{' '}
        (at its own address, signed in as you). The preview below shows it at{' '}
        <a href={preview} target="_blank" rel="noreferrer">
          {preview}
        </a>
        , read only.
      </p>
      {canManage && (
        <div className="actions">
          {app.status === 'paused' ? (
            <button type="button" onClick={() => void act(() => api.resume(app.id), `${app.name} is running again.`)}>
              Resume
            </button>
          ) : (
            <button type="button" className="secondary" onClick={() => void act(() => api.pause(app.id), `${app.name} is paused.`)}>
              Pause
            </button>
          )}
        </div>
      )}
      <iframe className="preview" title={`Preview of ${app.name}`} src={preview} sandbox="allow-forms allow-scripts allow-same-origin" />
      <h3>Traffic</h3>
      <label htmlFor="metrics-window">Window</label>{' '}
      <select id="metrics-window" value={hours} onChange={(e) => setHours(Number(e.target.value))}>
        {WINDOWS.map(([h, name]) => (
          <option key={h} value={h}>
            {name}
          </option>
        ))}
      </select>
      {metrics && (
        <dl className="metrics">
          <div>
            <dt>Requests ({metrics.window_hours} h)</dt>
            <dd>{metrics.requests}</dd>
          </div>
          <div>
            <dt>Errors</dt>
            <dd>{metrics.errors}</dd>
          </div>
          <div>
            <dt>Page views</dt>
            <dd>{metrics.page_views}</dd>
          </div>
          <div>
            <dt>CPU</dt>
            <dd>{metrics.cpu_ms} ms</dd>
          </div>
        </dl>
      )}
      {metrics && <TrafficChart series={metrics.series ?? []} windowHours={metrics.window_hours} />}
      <h3>Versions</h3>
      {/* Focusable so the table can be scrolled sideways from the keyboard on a narrow screen. */}
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Versions of the app">
        <table className="versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Created</th>
              <th scope="col">Tests</th>
              <th scope="col">Code</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => {
              // undefined: still loading; null: the build could not be read.
              const build = v.build_id ? builds[v.build_id] : undefined;
              return (
                <tr key={v.id}>
                  <th scope="row">{v.number}</th>
                  <td>{new Date(v.created_at).toLocaleString()}</td>
                  <td>
                    {build?.test_report ? (
                      <TestReportView report={build.test_report} label={`version ${v.number}`} />
                    ) : v.build_id ? (
                      build === undefined ? 'Loading…' : build === null ? 'The build could not be read' : 'No test report'
                    ) : (
                      'Not built here'
                    )}
                  </td>
                  <td>
                    <a href={api.sourceUrl(app.id, v.number)} download aria-label={`Download the code of version ${v.number}`}>
                      Download the code
                    </a>
                  </td>
                  <td>
                    {v.live ? (
                      'Live'
                    ) : canManage ? (
                      <button
                        type="button"
                        className="secondary"
                        onClick={() => void act(() => api.rollback(app.id, v.number), `Version ${v.number} is live again.`)}
                      >
                        Roll back to {v.number}
                      </button>
                    ) : (
                      '—'
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
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
