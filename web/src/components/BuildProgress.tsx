// The idea's build: the owner's "Build the app" button (once the spec is confirmed), the current build's
// stages as the `build:progress` events tell them, and, from the build's record, why it failed, its
// compile attempts and its test report. On open it loads the idea's latest build, so a reload shows
// where things are. What changes is announced politely (one live region, one sentence).

import { useCallback, useEffect, useRef, useState } from 'react';
import { Link } from 'react-router-dom';
import { ApiError, api } from '../api/client';
import type { Build, StoredEvent } from '../api/types';
import { announcement, endsSomething, noBuild, stageName, withProgress, withRecord, type BuildView } from './buildState';
import { formatDuration } from './duration';
import { TestReportView } from './TestReport';

interface Props {
  ideaId: string;
  /** The owner may start builds. */
  canBuild: boolean;
  /** A build needs a confirmed spec (the spec panel knows). */
  specConfirmed: boolean;
  subscribe: (listener: (event: StoredEvent) => void) => () => void;
  /** Called once a build this panel shows has finished, with its record. */
  onFinished?: (build: Build) => void;
}

interface StartError {
  message: string;
  credits: boolean;
}

function startError(failure: unknown): StartError {
  if (!(failure instanceof ApiError)) return { message: 'Could not start the build.', credits: false };
  if (failure.status === 402)
    return { message: `Not enough credits for a build: ${failure.message}`, credits: true };
  if (failure.status === 409) return { message: `The build cannot start now: ${failure.message}`, credits: false };
  return { message: `Could not start the build: ${failure.message}`, credits: false };
}

export function BuildProgress({ ideaId, canBuild, specConfirmed, subscribe, onFinished }: Props) {
  const [view, setView] = useState<BuildView>(noBuild);
  const [record, setRecord] = useState<Build | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [starting, setStarting] = useState(false);
  const [error, setError] = useState<StartError | null>(null);
  // Records can come back out of order; only the latest request's answer is used.
  const latestLoad = useRef(0);
  const finishedReported = useRef<string | null>(null);
  const finishedCallback = useRef(onFinished);
  finishedCallback.current = onFinished;

  const loadRecord = useCallback(async (buildId: string) => {
    const ticket = ++latestLoad.current;
    try {
      const build = await api.build(buildId);
      if (ticket !== latestLoad.current) return;
      setView((v) => withRecord(v, build));
      setRecord(build);
    } catch {
      // The events still show the stages; the record is tried again after the next stage ends.
    }
  }, []);

  useEffect(() => {
    let cancelled = false;
    setView(noBuild);
    setRecord(null);
    setLoaded(false);
    (async () => {
      try {
        const [latest] = await api.ideaBuilds(ideaId);
        if (cancelled) return;
        if (latest) {
          // A build that had finished before the page opened is not news.
          if (latest.status === 'succeeded' || latest.status === 'failed') finishedReported.current = latest.id;
          setView((v) => withRecord(v, latest));
          setRecord(latest);
        }
      } catch {
        // No builds to show (or none readable): the panel offers to build.
      } finally {
        if (!cancelled) setLoaded(true);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [ideaId]);

  useEffect(
    () =>
      subscribe((event) => {
        if (event.type !== 'build:progress' || event.idea_id !== ideaId) return;
        setView((v) => withProgress(v, ideaId, event));
        const buildId = typeof event.data.build_id === 'string' ? event.data.build_id : null;
        if (buildId && endsSomething(event)) void loadRecord(buildId);
      }),
    [subscribe, ideaId, loadRecord],
  );

  // The record of a finished build is what the app panel and the page react to.
  useEffect(() => {
    if (!record || record.id !== view.buildId) return;
    if (record.status !== 'succeeded' && record.status !== 'failed') return;
    if (finishedReported.current === record.id) return;
    finishedReported.current = record.id;
    finishedCallback.current?.(record);
  }, [record, view.buildId]);

  async function start() {
    setError(null);
    setStarting(true);
    try {
      const { build_id } = await api.startBuild(ideaId);
      setRecord(null);
      setView((v) => (v.buildId === build_id ? v : { ...noBuild, buildId: build_id, status: 'queued' }));
      void loadRecord(build_id);
    } catch (failure) {
      setError(startError(failure));
    } finally {
      setStarting(false);
    }
  }

  const shown = record && record.id === view.buildId ? record : null;
  const inProgress = view.status === 'queued' || view.status === 'running';
  const said = announcement(view, shown);
  const percent = view.percent ?? Math.round((100 * view.stages.filter((s) => s.status === 'done').length) / Math.max(view.stages.length, 1));

  return (
    <section className="panel" aria-labelledby="build-title">
      <h2 id="build-title">Build</h2>
      {canBuild && (
        <div className="actions">
          <button
            type="button"
            onClick={() => void start()}
            disabled={!specConfirmed || inProgress || starting}
            aria-describedby={!specConfirmed ? 'build-needs-spec' : undefined}
          >
            Build the app
          </button>
          {!specConfirmed && (
            <p id="build-needs-spec" className="hint">
              Confirm the spec first: a build makes the app from a confirmed spec.
            </p>
          )}
        </div>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error.message}
          {error.credits && (
            <>
              {' '}
              <Link to="/credits">See your credits</Link>.
            </>
          )}
        </p>
      )}
      <p role="status" aria-live="polite" className="build-status">
        {said}
      </p>
      {view.buildId === null ? (
        loaded && <p>No build yet. The build's steps appear here as they happen.</p>
      ) : (
        <>
          {inProgress && (
            <progress className="build-progress" max={100} value={percent} aria-label="Build progress">
              {percent}%
            </progress>
          )}
          <ol className="stages" aria-label="Build stages">
            {view.stages.map((s) => (
              <li key={s.stage} className={`stage stage-${s.status}`}>
                <span className="stage-name">{stageName(s.stage)}</span>: {s.status}
                {s.durationMs !== undefined && s.status !== 'running' && <span className="hint"> ({formatDuration(s.durationMs)})</span>}
                {s.message && <span className="stage-message"> — {s.message}</span>}
              </li>
            ))}
          </ol>
          {shown && <BuildDetails build={shown} said={said} />}
        </>
      )}
    </section>
  );
}

/** What the record adds to the stages: the failure (unless the status line `said` it already), the
 * compile attempts, the tests, the cost. */
function BuildDetails({ build, said }: { build: Build; said: string }) {
  return (
    <div className="build-details">
      {build.status === 'failed' && build.error && !said.includes(build.error) && (
        <p className="build-error">
          <strong>Why it failed:</strong> {build.error}
        </p>
      )}
      {build.attempts.length > 0 && (
        <>
          <h3>Compile attempts</h3>
          <ol className="attempts">
            {build.attempts.map((a) => (
              <li key={a.number}>
                Attempt {a.number}: {a.ok ? 'compiled' : 'failed'}
                {a.duration_ms != null && ` in ${formatDuration(a.duration_ms)}`}
                {a.error && (
                  <pre className="code attempt-error" tabIndex={0} aria-label={`Compiler output of attempt ${a.number}`}>
                    {a.error}
                  </pre>
                )}
              </li>
            ))}
          </ol>
        </>
      )}
      {build.test_report && (
        <>
          <h3>Tests</h3>
          <TestReportView report={build.test_report} label="this build" />
        </>
      )}
      <p className="hint">
        Spec version {build.spec_version}
        {build.version_number != null && <> · app version {build.version_number}</>}
        {build.credits_charged != null && <> · {build.credits_charged} credits</>}
      </p>
    </div>
  );
}
