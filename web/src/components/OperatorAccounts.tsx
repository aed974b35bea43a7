// The operator console's accounts: find one by email, see its balance (what is held, a spending pause
// to lift), what it spent on, its latest ledger entries, and grant it credits. A grant keeps its
// idempotency key until it succeeds, so pressing the button again after a failure cannot grant twice.

import { useState, type FormEvent } from 'react';
import { ApiError, api, errorMessage } from '../api/client';
import type { Credits, User } from '../api/types';
import { FormError } from './Field';
import { LedgerTable } from './LedgerTable';

/** How many of the account's newest ledger entries are shown. */
const SHOWN_ENTRIES = 10;

const sum = (lines: { credits: number }[]) => lines.reduce((total, line) => total + line.credits, 0);

export function OperatorAccounts() {
  const [email, setEmail] = useState('');
  const [account, setAccount] = useState<User | null>(null);
  const [credits, setCredits] = useState<Credits | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function open(user: User) {
    setAccount(user);
    setCredits(await api.accountCredits(user.id));
  }

  async function find(event: FormEvent) {
    event.preventDefault();
    setError(null);
    setAccount(null);
    setCredits(null);
    try {
      await open(await api.findAccount(email));
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 404 ? `No account has the email ${email.trim()}.` : errorMessage(failure, 'Could not find it.'),
      );
    }
  }

  async function resume() {
    if (!account) return;
    setError(null);
    try {
      await api.resumeSpending(account.id);
      setCredits(await api.accountCredits(account.id));
    } catch (failure) {
      setError(errorMessage(failure, 'Could not lift the pause.'));
    }
  }

  return (
    <section aria-labelledby="accounts-title">
      <h2 id="accounts-title">Accounts</h2>
      <form className="inline-form" onSubmit={(e) => void find(e)}>
        <label htmlFor="account-email">Email of the account</label>
        <input id="account-email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <button type="submit">Find</button>
      </form>
      <FormError message={error} />
      {account && credits && (
        <div className="account" aria-label={`Account ${account.email}`} role="region">
          <h3>
            {account.name || account.email} ({account.email}, {account.role})
          </h3>
          <p>
            Balance: <strong>{credits.balance}</strong> credits ({credits.held} held, {credits.available} available).
            Spent on conversations {sum(credits.usage.sessions)}, builds {sum(credits.usage.builds)}, hosting{' '}
            {sum(credits.usage.apps)}.
          </p>
          {credits.spending_paused && (
            <p className="notice">
              Spending is paused until {new Date(credits.spending_paused.until).toLocaleString()}: {credits.spending_paused.reason}{' '}
              <button type="button" className="secondary" onClick={() => void resume()}>
                Lift the pause
              </button>
            </p>
          )}
          <Grant account={account} onGranted={() => void open(account)} />
          <LedgerTable entries={credits.ledger.slice(0, SHOWN_ENTRIES)} label={`Latest ledger entries of ${account.email}`} />
        </div>
      )}
    </section>
  );
}

function Grant({ account, onGranted }: { account: User; onGranted: () => void }) {
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  // One key per grant the operator means to make: kept through failures and retries, new after success.
  const [key, setKey] = useState(() => crypto.randomUUID());
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  async function grant(event: FormEvent) {
    event.preventDefault();
    setError(null);
    setNotice(null);
    const credits = Number(amount);
    if (!Number.isInteger(credits) || credits <= 0) {
      setError('Enter a whole number of credits.');
      return;
    }
    try {
      const posted = await api.grantCredits(account.id, credits, reason.trim(), key);
      setNotice(
        posted.replayed
          ? `This grant was made already; the balance is ${posted.balance_after}.`
          : `Granted ${posted.amount} credits; the balance is now ${posted.balance_after}.`,
      );
      setKey(crypto.randomUUID());
      setAmount('');
      setReason('');
      onGranted();
    } catch (failure) {
      setError(errorMessage(failure, 'Could not grant the credits.'));
    }
  }

  return (
    <form onSubmit={(e) => void grant(e)} aria-label={`Grant credits to ${account.email}`}>
      <FormError message={error} />
      {notice && <p role="status">{notice}</p>}
      <div className="grant-fields">
        <div>
          <label htmlFor="grant-amount">Credits to grant</label>
          <input id="grant-amount" type="number" min={1} step={1} inputMode="numeric" value={amount} onChange={(e) => setAmount(e.target.value)} />
        </div>
        <div>
          <label htmlFor="grant-reason">Reason (the person reads it in their ledger)</label>
          <input id="grant-reason" maxLength={200} value={reason} onChange={(e) => setReason(e.target.value)} />
        </div>
      </div>
      <div className="actions">
        <button type="submit">Grant</button>
      </div>
    </form>
  );
}
