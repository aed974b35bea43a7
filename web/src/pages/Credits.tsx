// Credits: the balance (and what work in progress holds of it), buying more through Stripe Checkout,
// what each session, build and app cost (the server's sums over the whole ledger), and the ledger page
// by page. Back from Checkout, the page watches for the purchase to arrive: Stripe reports the payment
// to the server on its own schedule.

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { ApiError, api, errorMessage } from '../api/client';
import type { App, Credits, LedgerEntry, UsageLine } from '../api/types';
import { FormError } from '../components/Field';
import { LedgerTable } from '../components/LedgerTable';
import { useLiveEvents } from '../live';

/** How often, and how many times, the page looks for a purchase after returning from Checkout. */
const PURCHASE_POLL_MS = 3_000;
const PURCHASE_POLLS = 20;

export function CreditsPage() {
  const [credits, setCredits] = useState<Credits | null>(null);
  const [entries, setEntries] = useState<LedgerEntry[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [apps, setApps] = useState<App[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [params] = useSearchParams();
  const checkout = params.get('checkout');
  const firstBalance = useRef<number | null>(null);
  const [arrived, setArrived] = useState(false);

  async function load(before?: number) {
    try {
      const page = await api.credits(before);
      setCredits(page);
      firstBalance.current ??= page.balance;
      setEntries((all) => (before === undefined ? page.ledger : [...all, ...page.ledger]));
      setNext(page.next_before);
      return page;
    } catch (failure) {
      setError(errorMessage(failure, 'Could not load your credits.'));
      return null;
    }
  }

  useEffect(() => {
    void load();
    api.apps().then(setApps, () => undefined);
  }, []);

  // Running out, a spending pause, a grant: each is a notification; the numbers are read again.
  useLiveEvents((event) => {
    if (event.type === 'notification') void load();
  });

  // Back from a paid Checkout: the credits arrive when Stripe tells the server, usually within seconds.
  useEffect(() => {
    if (checkout !== 'success') return;
    let polls = 0;
    const timer = window.setInterval(async () => {
      polls += 1;
      const page = await load();
      const grown = page !== null && firstBalance.current !== null && page.balance > firstBalance.current;
      if (grown) setArrived(true);
      if (grown || polls >= PURCHASE_POLLS) window.clearInterval(timer);
    }, PURCHASE_POLL_MS);
    return () => window.clearInterval(timer);
  }, [checkout]);

  const appName = (id: string) => apps.find((a) => a.id === id)?.name;
  const appIdea = (id: string) => apps.find((a) => a.id === id)?.idea_id ?? undefined;
  return (
    <section className="page">
      <h1>Credits</h1>
      <FormError message={error} />
      {checkout === 'success' && (
        <p role="status" className="notice">
          {arrived ? 'Thank you: your credits have arrived.' : 'Thank you: the payment is being confirmed, and the credits appear here as soon as it is.'}
        </p>
      )}
      {checkout === 'cancelled' && (
        <p role="status" className="notice">
          The purchase was cancelled: nothing was charged.
        </p>
      )}
      {credits === null ? (
        !error && <p role="status">Loading…</p>
      ) : (
        <>
          <p className="balance">
            Balance: <strong>{credits.balance}</strong> credits
            {credits.held > 0 && (
              <>
                {' '}
                ({credits.held} held by work in progress, {credits.available} available)
              </>
            )}
          </p>
          {credits.spending_paused && (
            <p className="notice" role="alert">
              Spending is paused until {new Date(credits.spending_paused.until).toLocaleString()}:{' '}
              {credits.spending_paused.reason}
            </p>
          )}
          <BuyCredits />
          <h2>What used them</h2>
          <Usage title="Conversations with the agents" label="Session" lines={credits.usage.sessions} name={(id) => `Session ${id.slice(0, 8)}`} />
          <Usage title="Builds" label="Build" lines={credits.usage.builds} name={(id) => `Build ${id.slice(0, 8)}`} />
          <Usage title="Hosting your apps" label="App" lines={credits.usage.apps} name={(id) => appName(id) ?? `App ${id.slice(0, 8)}`}
            href={(id) => appIdea(id) && `/ideas/${appIdea(id)}`} />
          {credits.usage.other > 0 && <p>Other usage: {credits.usage.other} credits.</p>}
        </>
      )}
      <h2>Ledger</h2>
      <LedgerTable entries={entries} label="Ledger" />
      {next !== null && (
        <button type="button" className="secondary" onClick={() => void load(next)}>
          Show older entries
        </button>
      )}
    </section>
  );
}

/** One kind of usage: what each session, build or app cost, most recent first. */
function Usage({ title, label, lines, name, href }: {
  title: string;
  label: string;
  lines: UsageLine[];
  name: (id: string) => string;
  /** Where the line's thing is shown, when it is. */
  href?: (id: string) => string | undefined;
}) {
  return (
    <>
      <h3>{title}</h3>
      {lines.length === 0 ? (
        <p>None yet.</p>
      ) : (
        <div className="table-scroll" tabIndex={0} role="region" aria-label={title}>
          <table>
            <thead>
              <tr>
                <th scope="col">{label}</th>
                <th scope="col">Credits</th>
                <th scope="col">Last used</th>
              </tr>
            </thead>
            <tbody>
              {lines.map((line) => (
                <tr key={line.id}>
                  <th scope="row">{href?.(line.id) ? <Link to={href(line.id)!}>{name(line.id)}</Link> : name(line.id)}</th>
                  <td>{line.credits}</td>
                  <td>{new Date(line.last_at).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

/** Buying credits: the amount, then Stripe's own payment page. */
function BuyCredits() {
  const [amount, setAmount] = useState('500');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function buy(event: FormEvent) {
    event.preventDefault();
    setError(null);
    const credits = Number(amount);
    if (!Number.isInteger(credits) || credits <= 0) {
      setError('Enter a whole number of credits.');
      return;
    }
    setBusy(true);
    try {
      const checkout = await api.buyCredits(credits);
      window.location.assign(checkout.url);
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.code === 'purchases_not_configured'
          ? 'Buying credits is not set up on this server. Ask its operator for credits.'
          : errorMessage(failure, 'Could not start the purchase.'),
      );
      setBusy(false);
    }
  }

  return (
    <form className="buy-credits" onSubmit={(e) => void buy(e)} aria-labelledby="buy-title">
      <h2 id="buy-title">Buy credits</h2>
      <FormError message={error} />
      <label htmlFor="buy-amount">Credits to buy</label>
      <input id="buy-amount" type="number" min={1} step={1} inputMode="numeric" value={amount} onChange={(e) => setAmount(e.target.value)} />
      <button type="submit" disabled={busy}>
        {busy ? 'Opening the payment page…' : 'Continue to payment'}
      </button>
    </form>
  );
}
