import { describe, expect, it } from 'vitest';
import { announcement, endsSomething, fromBuild, noBuild, withProgress, withRecord } from './buildState';
import { aBuild as build } from '../test-support';
import type { StoredEvent } from '../api/types';

const progress = (id: number, idea: string, data: Record<string, unknown>): StoredEvent => ({ id, type: 'build:progress', idea_id: idea, data, at: '' });

const statuses = (view: { stages: { stage: string; status: string }[] }) => Object.fromEntries(view.stages.map((s) => [s.stage, s.status]));

describe('build state', () => {
  it('lists every stage in pipeline order and moves each one forward only, for this idea only', () => {
    let view = withProgress(noBuild, 'i1', progress(1, 'i1', { build_id: 'b1', stage: 'generating', status: 'done', percent: 20 }));
    view = withProgress(view, 'i1', progress(2, 'i1', { build_id: 'b1', stage: 'compiling', status: 'running', percent: 30, message: 'cargo build' }));
    // A replayed event (after a reconnect) cannot move a finished stage back.
    view = withProgress(view, 'i1', progress(1, 'i1', { build_id: 'b1', stage: 'generating', status: 'running', percent: 10 }));
    view = withProgress(view, 'i1', progress(3, 'i2', { build_id: 'b9', stage: 'deploying', status: 'running' }));
    view = withProgress(view, 'i1', { ...progress(4, 'i1', { build_id: 'b1' }), type: 'agent:message' });
    expect(view.buildId).toBe('b1');
    expect(view.status).toBe('running');
    expect(statuses(view)).toEqual({ generating: 'done', compiling: 'running', testing: 'pending', deploying: 'pending', live: 'pending' });
    expect(view.stages[1].message).toBe('cargo build');
    expect(announcement(view, null)).toBe('Compiling…');
  });

  it('ends in success at the live stage, and in failure at the first failed stage with its reason', () => {
    let ok = withProgress(noBuild, 'i1', progress(1, 'i1', { build_id: 'b1', stage: 'deploying', status: 'done' }));
    ok = withProgress(ok, 'i1', progress(2, 'i1', { build_id: 'b1', stage: 'live', status: 'done', percent: 100, final: true }));
    expect(ok.status).toBe('succeeded');
    expect(announcement(ok, build({ status: 'succeeded', version_number: 3 }))).toBe('The build succeeded: version 3 is live.');

    const failed = withProgress(noBuild, 'i1', progress(1, 'i1', { build_id: 'b1', stage: 'testing', status: 'failed', message: '2 tests failed', final: true }));
    expect(failed.status).toBe('failed');
    expect(announcement(failed, null)).toBe('The build failed while testing: 2 tests failed');
    expect(announcement(failed, build({ status: 'failed', error: 'books: create answered 500' }))).toBe(
      'The build failed while testing: books: create answered 500',
    );
  });

  it('starts afresh when the events name a new build', () => {
    const first = withProgress(noBuild, 'i1', progress(1, 'i1', { build_id: 'b1', stage: 'testing', status: 'failed', final: true }));
    const second = withProgress(first, 'i1', progress(2, 'i1', { build_id: 'b2', stage: 'generating', status: 'running', percent: 5 }));
    expect(second.buildId).toBe('b2');
    expect(second.status).toBe('running');
    expect(statuses(second).testing).toBe('pending');
    expect(second.percent).toBe(5);
  });

  it('merges a record with the events without undoing either, and ignores a record of an older build', () => {
    const record = build({
      stages: [
        { stage: 'generating', status: 'done', started_at: null, duration_ms: 800, message: null },
        { stage: 'compiling', status: 'running', started_at: null, duration_ms: null, message: null },
      ],
    });
    expect(statuses(fromBuild(record))).toEqual({ generating: 'done', compiling: 'running', testing: 'pending', deploying: 'pending', live: 'pending' });
    // The events got further than the record fetched before them.
    const ahead = withProgress(noBuild, 'i1', progress(5, 'i1', { build_id: 'b1', stage: 'compiling', status: 'done' }));
    const merged = withRecord(ahead, record);
    expect(statuses(merged)).toMatchObject({ generating: 'done', compiling: 'done' });
    expect(merged.stages[0].durationMs).toBe(800);
    // A finished record says how the build ended.
    expect(withRecord(merged, build({ status: 'failed', stages: record.stages })).status).toBe('failed');
    expect(withRecord(merged, build({ id: 'b0', status: 'succeeded' }))).toBe(merged);
    // The record of a succeeded build ends at deploying; the view says it is live.
    expect(statuses(fromBuild(build({ status: 'succeeded', stages: record.stages }))).live).toBe('done');
  });

  it('knows which events end something (the record then has more to say)', () => {
    expect(endsSomething(progress(1, 'i1', { stage: 'compiling', status: 'running' }))).toBe(false);
    expect(endsSomething(progress(1, 'i1', { stage: 'compiling', status: 'done' }))).toBe(true);
    expect(endsSomething(progress(1, 'i1', { stage: 'testing', status: 'failed' }))).toBe(true);
    expect(endsSomething({ ...progress(1, 'i1', { status: 'done' }), type: 'app:status' })).toBe(false);
  });
});
