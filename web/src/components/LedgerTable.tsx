// Ledger entries as a table, newest first: when, what, the amount (spent in the danger colour and with
// its sign, so colour is never the only cue) and the balance after. The person's credits page and the
// operator console's account view both show it.

import type { LedgerEntry } from '../api/types';

export function LedgerTable({ entries, label }: { entries: LedgerEntry[]; label: string }) {
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={label}>
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
  );
}
