import { describe, expect, it } from 'vitest';
import { costBySession } from './Credits';
import type { LedgerEntry } from '../api/types';

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
