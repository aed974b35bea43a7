import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { AppPanel } from './AppPanel';
import { aBuild, fakeServer } from '../test-support';
import type { App, AppVersion, IdeaRole, StoredEvent } from '../api/types';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const app = (role: IdeaRole, overrides: Partial<App> = {}): App => ({
  id: 'a1', idea_id: 'i1', owner_id: 'u1', slug: 'bike-repairs', name: 'Bike repairs', status: 'running', url: '/apps/bike-repairs/',
  live_version_id: 'v2', live_version: 2, health: 'healthy', role, created_at: '', deployed_at: null, ...overrides,
});

const version = (number: number, live: boolean, build_id: string | null): AppVersion => ({
  id: `v${number}`, app_id: 'a1', number, component_digest: '', migrations: [], config_names: [], live, build_id, created_at: '2026-11-27T05:00:00Z',
});

function events() {
  const listeners = new Set<(e: StoredEvent) => void>();
  return {
    subscribe: (l: (e: StoredEvent) => void) => (listeners.add(l), () => void listeners.delete(l)),
    emit: (event: Partial<StoredEvent>) => act(() => listeners.forEach((l) => l({ id: 1, type: 'build:progress', idea_id: 'i1', data: {}, at: '', ...event }))),
  };
}

/** Metrics over `hours` whose slices hold the given requests and errors. */
function metrics(hours: number, requests: number[], errors: number[]) {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const start = Date.parse('2026-11-20T00:00:00Z');
  const width = (hours * 3600 * 1000) / requests.length;
  const series = requests.map((r, i) => ({ from: new Date(start + i * width).toISOString(), requests: r, errors: errors[i] }));
  return { window_hours: hours, requests: sum(requests), errors: sum(errors), limit_hits: 0, cpu_ms: 40, page_views: 9, series };
}

function appServer(role: IdeaRole, overrides: Partial<App> = {}) {
  let live = 2;
  const server = fakeServer({
    'GET /api/apps': () => ({ status: 200, body: [app(role, { id: 'other', idea_id: 'i9' }), app(role, { live_version: live, ...overrides })] }),
    'GET /api/apps/a1/versions': () => ({ status: 200, body: [version(3, live === 3, 'b3'), version(2, live === 2, 'b2'), version(1, live === 1, null)] }),
    'GET /api/apps/a1/metrics?hours=24': () => ({ status: 200, body: metrics(24, [0, 3, 9], [0, 0, 1]) }),
    'GET /api/apps/a1/metrics?hours=720': () => ({ status: 200, body: metrics(720, [40, 2], [5, 0]) }),
    'GET /api/apps/a1/logs?limit=100': () => ({ status: 200, body: [] }),
    'GET /api/builds/b2': () => ({ status: 200, body: aBuild({ id: 'b2', status: 'succeeded', test_report: { passed: 4, failed: 0, cases: [] } }) }),
    'GET /api/builds/b3': () => ({
      status: 200,
      body: aBuild({
        id: 'b3',
        status: 'failed',
        test_report: { passed: 3, failed: 1, cases: [{ name: 'books: update', passed: false, failure: 'PATCH /api/books/1 answered 500' }] },
      }),
    }),
    'POST /api/apps/a1/rollback': (body) => {
      live = (body as { version: number }).version;
      return { status: 200, body: {} };
    },
  });
  return server;
}

describe('AppPanel', () => {
  it('shows the app’s health and each version with its test report and a download of its code', async () => {
    appServer('owner');
    render(<AppPanel ideaId="i1" subscribe={events().subscribe} />);
    expect(await screen.findByRole('heading', { name: 'App: Bike repairs' })).toBeInTheDocument();
    expect(screen.getByText('healthy: its health check answers')).toBeInTheDocument();
    expect(screen.getByText(/version 2 is live/)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Open Bike repairs in a new tab' })).toHaveAttribute('href', '/api/apps/a1/open');
    expect(screen.getByRole('link', { name: '/apps/bike-repairs/' })).toHaveAttribute('href', '/apps/bike-repairs/');
    expect(screen.getByTitle('Preview of Bike repairs')).toHaveAttribute('src', '/apps/bike-repairs/');

    const rows = within(await screen.findByRole('region', { name: 'Versions of the app' })).getAllByRole('row');
    const [, v3, v2, v1] = rows;
    expect(await within(v3).findByText('3 passed, 1 failed')).toBeInTheDocument();
    expect(within(v3).getByRole('list', { name: 'Failing tests of version 3' })).toHaveTextContent('books: update: PATCH /api/books/1 answered 500');
    expect(within(v2).getByText('4 passed, 0 failed')).toBeInTheDocument();
    expect(within(v2).getByText('Live')).toBeInTheDocument();
    expect(within(v1).getByText('Not built here')).toBeInTheDocument();
    for (const n of [3, 2, 1]) {
      expect(screen.getByRole('link', { name: `Download the code of version ${n}` })).toHaveAttribute('href', `/api/apps/a1/source?version=${n}`);
    }
  });

  it('rolls back in one click and says which version is live', async () => {
    const server = appServer('owner');
    render(<AppPanel ideaId="i1" subscribe={events().subscribe} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Roll back to 1' }));
    expect(await screen.findByText('Version 1 is live again.')).toBeInTheDocument();
    expect(server.calls.find((c) => c.method === 'POST')).toMatchObject({ path: '/api/apps/a1/rollback', body: { version: 1 } });
    expect(screen.getByText(/version 1 is live/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Roll back to 2' })).toBeInTheDocument();
  });

  it('shows a failing app’s health, and viewers no rollback', async () => {
    appServer('viewer', { health: 'failing' });
    render(<AppPanel ideaId="i1" subscribe={events().subscribe} />);
    expect(await screen.findByText('failing: its health check does not answer')).toBeInTheDocument();
    expect(await screen.findByText('3 passed, 1 failed')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Roll back/ })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Pause' })).not.toBeInTheDocument();
  });

  it('charts requests and errors, and another window on request', async () => {
    const server = appServer('viewer');
    render(<AppPanel ideaId="i1" subscribe={events().subscribe} />);
    const chart = await screen.findByRole('img', { name: /^Requests per 8 hours over the last 24 hours: 12 in all, 1 of them errors\./ });
    expect(chart.getAttribute('aria-label')).toContain('with 9.');
    const table = screen.getByRole('region', { name: 'Requests and errors per slice' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows.map((r) => within(r).getAllByRole('cell').map((c) => c.textContent))).toEqual([
      ['0', '0'],
      ['3', '0'],
      ['9', '1'],
    ]);
    await userEvent.selectOptions(screen.getByLabelText('Window'), 'Last 30 days');
    expect(await screen.findByRole('img', { name: /^Requests per 15 days over the last 720 hours: 42 in all, 5 of them errors\./ })).toBeInTheDocument();
    expect(server.calls.some((c) => c.path === '/api/apps/a1/metrics?hours=720')).toBe(true);
  });

  it('refreshes the traffic numbers while the page is in view', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const server = appServer('viewer');
      const base = server.fetch.getMockImplementation()!;
      let later = false;
      server.fetch.mockImplementation(async (path: string, init?: RequestInit) =>
        later && path === '/api/apps/a1/metrics?hours=24'
          ? new Response(JSON.stringify(metrics(24, [0, 3, 20], [0, 0, 2])), { status: 200 })
          : base(path, init),
      );
      render(<AppPanel ideaId="i1" subscribe={events().subscribe} />);
      expect(await screen.findByRole('img', { name: /12 in all, 1 of them errors/ })).toBeInTheDocument();
      later = true;
      await act(() => vi.advanceTimersByTimeAsync(30_000));
      expect(await screen.findByRole('img', { name: /23 in all, 2 of them errors/ })).toBeInTheDocument();
    } finally {
      vi.useRealTimers();
    }
  });

  it('appears when a build of the idea goes live', async () => {
    let built = false;
    const server = appServer('owner');
    const base = server.fetch.getMockImplementation()!;
    server.fetch.mockImplementation(async (path: string, init?: RequestInit) =>
      path === '/api/apps' && !built ? new Response('[]', { status: 200 }) : base(path, init),
    );
    const live = events();
    render(<AppPanel ideaId="i1" subscribe={live.subscribe} />);
    expect(await screen.findByText('The app appears here once it is built.')).toBeInTheDocument();
    built = true;
    const appLoads = () => server.calls.filter((c) => c.path === '/api/apps').length;
    const before = appLoads();
    live.emit({ data: { build_id: 'b3', stage: 'compiling', status: 'done' } });
    live.emit({ idea_id: 'i2', data: { build_id: 'b9', stage: 'live', status: 'done', final: true } });
    expect(appLoads()).toBe(before);
    live.emit({ data: { build_id: 'b3', stage: 'live', status: 'done', final: true } });
    expect(await screen.findByRole('heading', { name: 'App: Bike repairs' })).toBeInTheDocument();
  });
});
