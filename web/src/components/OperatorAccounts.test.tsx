import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { OperatorAccounts } from './OperatorAccounts';
import { ada, fakeServer } from '../test-support';
import type { Credits } from '../api/types';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function credits(balance: number, paused = false): Credits {
  return {
    balance, held: 5, available: balance - 5,
    spending_paused: paused ? { reason: 'spent 1200 credits in 10 minutes', until: '2026-11-27T12:00:00Z' } : null,
    usage: {
      sessions: [{ id: 's1', credits: 7, entries: 2, last_at: '2026-11-27T08:00:00Z' }, { id: 's2', credits: 3, entries: 1, last_at: '2026-11-27T08:00:00Z' }],
      builds: [{ id: 'b1', credits: 25, entries: 1, last_at: '2026-11-27T08:00:00Z' }],
      apps: [],
      other: 0,
    },
    ledger: [{ id: 1, kind: 'grant', amount: 100, balance_after: 100, reason: 'welcome credits', reference_type: null, reference_id: null, created_at: '2026-11-27T07:00:00Z' }],
    next_before: null,
  };
}

describe('OperatorAccounts', () => {
  it('finds an account, shows its credits, and grants once per key even when retried', async () => {
    let balance = 100;
    let paused = true;
    let failNext = true;
    const server = fakeServer({
      'GET /api/accounts?email=ada%40example.com': () => ({ status: 200, body: ada }),
      'GET /api/credits/users/u1': () => ({ status: 200, body: credits(balance, paused) }),
      'POST /api/credits/users/u1/resume': () => {
        paused = false;
        return { status: 204 };
      },
      'POST /api/accounts/u1/grants': (body) => {
        if (failNext) {
          failNext = false;
          return { status: 503, body: { error: { code: 'unavailable', message: 'the database is busy; try again' } } };
        }
        balance += (body as { amount: number }).amount;
        return { status: 201, body: { ledger_id: 2, amount: 250, balance_after: balance, replayed: false } };
      },
    });
    render(<OperatorAccounts />);
    await userEvent.type(screen.getByLabelText('Email of the account'), 'ada@example.com');
    await userEvent.click(screen.getByRole('button', { name: 'Find' }));
    const account = await screen.findByRole('region', { name: 'Account ada@example.com' });
    expect(account).toHaveTextContent('Balance: 100 credits (5 held, 95 available). Spent on conversations 10, builds 25, hosting 0.');
    expect(within(account).getByText('welcome credits')).toBeInTheDocument();

    await userEvent.click(within(account).getByRole('button', { name: 'Lift the pause' }));
    await vi.waitFor(() => expect(within(account).queryByText(/Spending is paused/)).not.toBeInTheDocument());

    await userEvent.type(within(account).getByLabelText('Credits to grant'), '250');
    await userEvent.type(within(account).getByLabelText(/^Reason/), 'beta tester');
    await userEvent.click(within(account).getByRole('button', { name: 'Grant' }));
    expect(await within(account).findByRole('alert')).toHaveTextContent('the database is busy');
    await userEvent.click(within(account).getByRole('button', { name: 'Grant' }));
    expect(await within(account).findByRole('status')).toHaveTextContent('Granted 250 credits; the balance is now 350.');
    const grants = server.calls.filter((c) => c.path === '/api/accounts/u1/grants').map((c) => c.body as Record<string, unknown>);
    expect(grants).toHaveLength(2);
    expect(grants[0]).toEqual({ amount: 250, reason: 'beta tester', idempotency_key: grants[0].idempotency_key });
    expect(grants[1].idempotency_key, 'the retry reuses the key').toBe(grants[0].idempotency_key);
    await vi.waitFor(() => expect(account).toHaveTextContent('Balance: 350 credits'));
  });

  it('says when no account has the email', async () => {
    fakeServer({});
    render(<OperatorAccounts />);
    await userEvent.type(screen.getByLabelText('Email of the account'), 'nobody@example.com');
    await userEvent.click(screen.getByRole('button', { name: 'Find' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('No account has the email nobody@example.com.');
  });
});
