import { describe, expect, it } from 'vitest';
import { withProgress } from './BuildProgress';
import { costBySession } from '../pages/Credits';
import type { LedgerEntry, StoredEvent } from '../api/types';

const progress = (id: number, idea: string, data: Record<string, unknown>): StoredEvent => ({ id, type: 'build:progress', idea_id: idea, data, at: '' });

describe('build progress', () => {
  it('keeps one line per stage, in first-seen order, for this idea only', () => {
    let stages = withProgress([], 'i1', progress(1, 'i1', { stage: 'compile', status: 'running', percent: 10 }));
    stages = withProgress(stages, 'i1', progress(2, 'i1', { stage: 'test', status: 'queued' }));
    stages = withProgress(stages, 'i1', progress(3, 'i1', { stage: 'compile', status: 'done', percent: 100 }));
    stages = withProgress(stages, 'i1', progress(4, 'i2', { stage: 'deploy', status: 'running' }));
    stages = withProgress(stages, 'i1', { ...progress(5, 'i1', {}), type: 'agent:message' });
    expect(stages).toEqual([
      { stage: 'compile', status: 'done', percent: 100, message: undefined },
      { stage: 'test', status: 'queued', percent: undefined, message: undefined },
    ]);
  });
});

describe('cost by session', () => {
  const entry = (id: number, amount: number, ref: string | null, type = 'agent_session'): LedgerEntry => ({
    id, kind: amount < 0 ? 'usage' : 'grant', amount, balance_after: 0, reason: '', reference_type: ref ? type : null, reference_id: ref, created_at: '',
  });
  it('adds up what each session spent and ignores grants and other references', () => {
    expect(costBySession([entry(1, 100, null), entry(2, -3, 's1'), entry(3, -2, 's2'), entry(4, -4, 's1'), entry(5, -9, 'b1', 'build')])).toEqual([
      { session: 's1', spent: 7 },
      { session: 's2', spent: 2 },
    ]);
  });
});
