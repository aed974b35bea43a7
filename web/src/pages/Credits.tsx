// Credits: the balance, the ledger page by page, and what each agent session cost.

import { useEffect, useState } from 'react';
import { ApiError, api } from '../api/client';
import type { LedgerEntry } from '../api/types';

/** Credits spent per session, from the ledger entries that name one. */
export function costBySession(entries: LedgerEntry[]): { session: string; spent: number }[] {
  const spent = new Map<string, number>();
  for (const entry of entries) {
    if (entry.reference_type !== 'agent_session' || !entry.reference_id || entry.amount >= 0) continue;
    spent.set(entry.reference_id, (spent.get(entry.reference_id) ?? 0) - entry.amount);
  }
  return [...spent.entries()].map(([session, total]) => ({ session, spent: total }));
}

export function CreditsPage() {
  const [balance, setBalance] = useState<number | null>(null);
  const [entries, setEntries] = useState<LedgerEntry[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function load(before?: number) {
    try {
      const page = await api.credits(before);
      setBalance(page.balance);
      setEntries((all) => (before === undefined ? page.ledger : [...all, ...page.ledger]));
      setNext(page.next_before);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not load your credits.');
    }
  }

  useEffect(() => {
    void load();
  }, []);

  const sessions = costBySession(entries);
  return (
    <section className="page">
      <h1>Credits</h1>
      {error && <p role="alert">{error}</p>}
      <p className="balance">
        Balance: <strong>{balance ?? '…'}</strong> credits
      </p>
      <h2>What each session cost</h2>
      {sessions.length === 0 ? (
        <p>No session has used credits yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Credits</th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((s) => (
              <tr key={s.session}>
                <td>
                  <code>{s.session.slice(0, 8)}</code>
                </td>
                <td>{s.spent}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Ledger</h2>
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Ledger">
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">What</th>
              <th scope="col">Amount</th>
              <th scope="col">Balance after</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id}>
                <td>{new Date(e.created_at).toLocaleString()}</td>
                <td>{e.reason || e.kind}</td>
                <td className={e.amount < 0 ? 'debit' : 'credit'}>{e.amount > 0 ? `+${e.amount}` : e.amount}</td>
                <td>{e.balance_after}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {next !== null && (
        <button type="button" className="secondary" onClick={() => void load(next)}>
          Show older entries
        </button>
      )}
    </section>
  );
}
