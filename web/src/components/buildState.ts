// What the build panel shows, folded from two sources that race each other: the build's record
// (`GET /api/builds/{id}`, loaded on open and after each finished stage) and the live `build:progress`
// events. Each stage only moves forward (pending → running → done or failed), so a record fetched just
// before an event arrived cannot undo what the event said, and an event replayed after a reconnect
// changes nothing.

import { BUILD_STAGES, type Build, type BuildStatus, type StoredEvent } from '../api/types';

export type StageState = 'pending' | 'running' | 'done' | 'failed';

export interface StageProgress {
  stage: string;
  status: StageState;
  message?: string;
  durationMs?: number;
}

export interface BuildView {
  /** The build shown; null before the idea's first build. */
  buildId: string | null;
  status: BuildStatus | null;
  /** The pipeline's own estimate of how far the whole build is, from the latest event. */
  percent?: number;
  stages: StageProgress[];
}

export const noBuild: BuildView = { buildId: null, status: null, stages: [] };

const RANK: Record<StageState, number> = { pending: 0, running: 1, done: 2, failed: 2 };

function stageState(value: unknown): StageState {
  return value === 'done' || value === 'failed' || value === 'running' ? value : 'running';
}

/** The known stages in pipeline order (pending until heard of), then any other stage the server named. */
function withAllStages(stages: StageProgress[]): StageProgress[] {
  const known = BUILD_STAGES.map((stage) => stages.find((s) => s.stage === stage) ?? { stage, status: 'pending' as const });
  const others = stages.filter((s) => !(BUILD_STAGES as readonly string[]).includes(s.stage));
  return [...known, ...others];
}

/** Replaces `stage` with `next` unless that would move it backwards. */
function advance(stages: StageProgress[], next: StageProgress): StageProgress[] {
  const at = stages.findIndex((s) => s.stage === next.stage);
  if (at === -1) return [...stages, next];
  const current = stages[at];
  if (RANK[next.status] < RANK[current.status]) return stages;
  const merged = { ...current, ...next, message: next.message ?? current.message, durationMs: next.durationMs ?? current.durationMs };
  return stages.map((s, i) => (i === at ? merged : s));
}

/** The status a build has from its stages alone (events do not carry the build's status). */
function statusFromStages(stages: StageProgress[], final: boolean): BuildStatus {
  if (stages.some((s) => s.status === 'failed')) return 'failed';
  if (stages.some((s) => s.stage === 'live' && s.status === 'done')) return 'succeeded';
  if (final) return 'succeeded';
  return stages.some((s) => s.status !== 'pending') ? 'running' : 'queued';
}

const finished = (status: BuildStatus | null) => status === 'succeeded' || status === 'failed';

/** The view of a build's record. */
export function fromBuild(build: Build): BuildView {
  const stages = build.stages.map((s) => ({
    stage: s.stage,
    status: stageState(s.status),
    message: s.message ?? undefined,
    durationMs: s.duration_ms ?? undefined,
  }));
  // The pipeline's record ends at deploying; a succeeded build is live.
  const all = withAllStages(stages).map((s) => (s.stage === 'live' && build.status === 'succeeded' ? { ...s, status: 'done' as const } : s));
  return { buildId: build.id, status: build.status, stages: all };
}

/** Folds a freshly loaded record into the view. Events of a newer build than the record win. */
export function withRecord(view: BuildView, build: Build): BuildView {
  if (view.buildId !== null && view.buildId !== build.id) return view;
  const record = fromBuild(build);
  if (view.buildId === null) return record;
  const stages = record.stages.reduce(advance, withAllStages(view.stages));
  const status = finished(build.status) ? build.status : finished(view.status) ? view.status : statusFromStages(stages, false);
  return { ...view, status, stages };
}

/** Folds one live event into the view: `build:progress` of this idea only. A new build id starts afresh. */
export function withProgress(view: BuildView, ideaId: string, event: StoredEvent): BuildView {
  if (event.type !== 'build:progress' || event.idea_id !== ideaId) return view;
  const data = event.data;
  const buildId = typeof data.build_id === 'string' ? data.build_id : view.buildId;
  const base = buildId === view.buildId ? view : { ...noBuild, buildId };
  const next: StageProgress = {
    stage: String(data.stage ?? 'build'),
    status: stageState(data.status),
    message: typeof data.message === 'string' ? data.message : undefined,
  };
  const stages = advance(withAllStages(base.stages), next);
  const status = finished(base.status) ? base.status : statusFromStages(stages, data.final === true);
  const percent = typeof data.percent === 'number' ? data.percent : base.percent;
  return { ...base, buildId, status, percent, stages };
}

/** Whether this event ends a stage (or the build), after which the record has more to say. */
export function endsSomething(event: StoredEvent): boolean {
  return event.type === 'build:progress' && (event.data.status !== 'running' || event.data.final === true);
}

const STAGE_NAMES: Record<string, string> = {
  generating: 'Generating the code',
  compiling: 'Compiling',
  testing: 'Testing',
  deploying: 'Deploying',
  live: 'Live',
};

export function stageName(stage: string): string {
  return STAGE_NAMES[stage] ?? stage.charAt(0).toUpperCase() + stage.slice(1);
}

/** One sentence for the live region: what the build is doing or how it ended. */
export function announcement(view: BuildView, record: Build | null): string {
  if (view.buildId === null) return '';
  const failedAt = view.stages.find((s) => s.status === 'failed');
  switch (view.status) {
    case 'queued':
      return 'The build is queued.';
    case 'succeeded':
      return record?.version_number != null
        ? `The build succeeded: version ${record.version_number} is live.`
        : 'The build succeeded: the app is live.';
    case 'failed': {
      const where = failedAt ? ` while ${stageName(failedAt.stage).toLowerCase()}` : '';
      const why = record?.error ?? failedAt?.message;
      return `The build failed${where}${why ? `: ${why}` : '.'}`;
    }
    default: {
      const running = [...view.stages].reverse().find((s) => s.status === 'running');
      return running ? `${stageName(running.stage)}…` : 'The build is running.';
    }
  }
}
