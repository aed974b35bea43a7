// The build's progress by stage, from `build:progress` events. The build pipeline is expected to send
// `data: {stage, status, message?, percent?}` per step; anything it sends is shown as it comes.

import { useEffect, useState } from 'react';
import type { StoredEvent } from '../api/types';

export interface StageProgress {
  stage: string;
  status: string;
  message?: string;
  percent?: number;
}

/** Folds one `build:progress` event of the idea into the stages, in the order they appeared. */
export function withProgress(stages: StageProgress[], ideaId: string, event: StoredEvent): StageProgress[] {
  if (event.type !== 'build:progress' || event.idea_id !== ideaId) return stages;
  const data = event.data;
  const stage = String(data.stage ?? data.step ?? 'build');
  const next: StageProgress = {
    stage,
    status: String(data.status ?? 'running'),
    message: typeof data.message === 'string' ? data.message : undefined,
    percent: typeof data.percent === 'number' ? data.percent : undefined,
  };
  const at = stages.findIndex((s) => s.stage === stage);
  if (at === -1) return [...stages, next];
  return stages.map((s, i) => (i === at ? next : s));
}

export function BuildProgress({ ideaId, subscribe }: { ideaId: string; subscribe: (l: (e: StoredEvent) => void) => () => void }) {
  const [stages, setStages] = useState<StageProgress[]>([]);
  useEffect(() => subscribe((event) => setStages((s) => withProgress(s, ideaId, event))), [ideaId, subscribe]);
  return (
    <section className="panel" aria-labelledby="build-title">
      <h2 id="build-title">Build</h2>
      {stages.length === 0 ? (
        <p>The build's steps appear here as they happen.</p>
      ) : (
        <ol className="stages">
          {stages.map((s) => (
            <li key={s.stage} className={`stage stage-${s.status}`}>
              <span className="stage-name">{s.stage}</span>: {s.status}
              {s.percent !== undefined && (
                <progress max={100} value={s.percent} aria-label={`${s.stage} progress`}>
                  {s.percent}%
                </progress>
              )}
              {s.message && <span className="hint"> {s.message}</span>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
