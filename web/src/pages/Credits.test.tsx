import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router-dom';
import { CreditsPage } from './Credits';
import { fakeServer } from '../test-support';
import type { Credits } from '../api/types';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

function credits(overrides: Partial<Credits> = {}): Credits {
  return {
    balance: 120, held: 30, available: 90, spending_paused: null,
    usage: {
      sessions: [{ id: 'a5d0c1e2-0000-4000-8000-000000000001', credits: 14, entries: 3, last_at: '2026-11-27T08:00:00Z' }],
      builds: [{ id: 'b7e1d2f3-0000-4000-8000-000000000002', credits: 25, entries: 1, last_at: '2026-11-27T08:10:00Z' }],
      apps: [{ id: 'app-1', credits: 6, entries: 40, last_at: '2026-11-27T09:00:00Z' }],
      other: 0,
    },
    ledger: [
      { id: 9, kind: 'usage', amount: -25, balance_after: 120, reason: 'build', reference_type: 'build', reference_id: 'b7e1', created_at: '2026-11-27T08:10:00Z' },
      { id: 8, kind: 'grant', amount: 145, balance_after: 145, reason: 'welcome', reference_type: null, reference_id: null, created_at: '2026-11-27T07:00:00Z' },
    ],
    next_before: null,
    ...overrides,
  };
}

const page = (path = '/credits') =>
  render(
    <MemoryRouter initialEntries={[path]}>
      <CreditsPage />
    </MemoryRouter>,
  );

const rowsOf = (region: HTMLElement) =>
  within(region).getAllByRole('row').slice(1).map((r) => [...r.querySelectorAll('th, td')].map((c) => c.textContent));

describe('CreditsPage', () => {
  it('shows the balance with what is held, and what each session, build and app used', async () => {
    fakeServer({
      'GET /api/credits': () => ({ status: 200, body: credits() }),
      'GET /api/apps': () => ({ status: 200, body: [{ id: 'app-1', idea_id: 'i1', name: 'Bike repairs' }] }),
    });
    page();
    expect(await screen.findByText(/30 held by work in progress, 90 available/)).toBeInTheDocument();
    expect(rowsOf(screen.getByRole('region', { name: 'Conversations with the agents' }))[0].slice(0, 2)).toEqual(['Session a5d0c1e2', '14']);
    expect(rowsOf(screen.getByRole('region', { name: 'Builds' }))[0].slice(0, 2)).toEqual(['Build b7e1d2f3', '25']);
    expect(await screen.findByRole('link', { name: 'Bike repairs' })).toHaveAttribute('href', '/ideas/i1');
    expect(rowsOf(screen.getByRole('region', { name: 'Ledger' })).map((r) => r.slice(1))).toEqual([
      ['build', '-25', '120'],
      ['welcome', '+145', '145'],
    ]);
  });

  it('sends the buyer to Stripe’s page, or says plainly that buying is not set up', async () => {
    let configured = false;
    const server = fakeServer({
      'GET /api/credits': () => ({ status: 200, body: credits() }),
      'GET /api/apps': () => ({ status: 200, body: [] }),
      'POST /api/credits': () =>
        configured
          ? { status: 201, body: { purchase_id: 'p1', checkout_session_id: 'cs_1', url: 'https://checkout.example/cs_1', credits: 1000, amount: 1000, currency: 'usd' } }
          : { status: 503, body: { error: { code: 'purchases_not_configured', message: 'purchases are not configured' } } },
    });
    const assign = vi.fn();
    vi.stubGlobal('location', { ...window.location, assign });
    page();
    const amount = await screen.findByLabelText('Credits to buy');
    await userEvent.clear(amount);
    await userEvent.type(amount, '1000');
    await userEvent.click(screen.getByRole('button', { name: 'Continue to payment' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Buying credits is not set up on this server.');
    expect(assign).not.toHaveBeenCalled();
    configured = true;
    await userEvent.click(screen.getByRole('button', { name: 'Continue to payment' }));
    await vi.waitFor(() => expect(assign).toHaveBeenCalledWith('https://checkout.example/cs_1'));
    expect(server.calls.filter((c) => c.method === 'POST').map((c) => c.body)).toEqual([{ credits: 1000 }, { credits: 1000 }]);
  });

  it('back from a paid checkout, watches until the credits arrive', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let balance = 120;
    fakeServer({
      'GET /api/credits': () => ({ status: 200, body: credits({ balance }) }),
      'GET /api/apps': () => ({ status: 200, body: [] }),
    });
    page('/credits?purchase=p1&checkout=success');
    expect(await screen.findByText(/the payment is being confirmed/)).toBeInTheDocument();
    balance = 1120;
    await act(() => vi.advanceTimersByTimeAsync(3_000));
    expect(await screen.findByText('Thank you: your credits have arrived.')).toBeInTheDocument();
    expect(screen.getByText('1120')).toBeInTheDocument();
  });
});
