import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { IdeaPage } from './IdeaPage';
import { AuthContext, type AuthState } from '../auth';
import { LiveContext } from '../live';
import { aBuild, fakeServer } from '../test-support';
import type { Idea, StoredEvent, User } from '../api/types';

beforeEach(() => localStorage.clear());
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const idea = (status: Idea['status'], role: Idea['role'] = 'owner'): Idea => ({
  id: 'i1', owner_id: 'u1', name: 'Bike bookings', summary: '', status, visibility: 'private', role, created_at: '', updated_at: '',
});

function renderIdea(server: Record<string, (body: unknown) => { status: number; body?: unknown }>) {
  const listeners = new Set<(e: StoredEvent) => void>();
  const calls = fakeServer({
    'GET /api/sessions/s1': () => ({ status: 200, body: { id: 's1', idea_id: 'i1', messages: [], credits_consumed: 4 } }),
    'GET /api/ideas/i1/spec': () => ({ status: 404, body: { error: { code: 'not_found', message: 'no spec' } } }),
    'GET /api/ideas/i1/collaborate': () => ({ status: 200, body: [] }),
    'GET /api/ideas/i1/builds': () => ({ status: 200, body: [] }),
    'GET /api/apps': () => ({ status: 200, body: [] }),
    ...server,
  }).calls;
  const live = { state: 'open' as const, subscribe: (l: (e: StoredEvent) => void) => (listeners.add(l), () => void listeners.delete(l)) };
  const auth: AuthState = {
    user: { id: 'u1', email: 'ada@example.com', name: 'Ada' } as User,
    signedIn: () => {},
    logout: async () => {},
    refresh: async () => {},
    notice: null,
  };
  render(
    <AuthContext.Provider value={auth}>
      <LiveContext.Provider value={live}>
        <MemoryRouter initialEntries={['/ideas/i1']} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
          <Routes>
            <Route path="/ideas/:id" element={<IdeaPage />} />
          </Routes>
        </MemoryRouter>
      </LiveContext.Provider>
    </AuthContext.Provider>,
  );
  const emit = (event: Partial<StoredEvent>) =>
    act(() => listeners.forEach((l) => l({ id: 1, type: 'agent:message', idea_id: 'i1', data: {}, at: '', ...event })));
  return { calls, emit };
}

describe('IdeaPage', () => {
  it('opens a new idea as a full-screen conversation and becomes a dashboard when the phase moves on', async () => {
    const { calls, emit } = renderIdea({
      'GET /api/ideas/i1': () => ({ status: 200, body: idea('ideation') }),
      'POST /api/sessions': () => ({ status: 201, body: { id: 's1', idea_id: 'i1' } }),
    });
    expect(await screen.findByLabelText('Your message')).toBeInTheDocument();
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ idea_id: 'i1', agent_type: 'ideation' });
    expect(await screen.findByText(/cost 4 credits/)).toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: 'Spec' })).not.toBeInTheDocument();
    // Another idea's phase change does nothing here.
    emit({ idea_id: 'other', data: { phase: 'specification' } });
    expect(screen.queryByRole('heading', { name: 'Spec' })).not.toBeInTheDocument();
    emit({ data: { session_id: 's1', phase: 'specification' } });
    expect(await screen.findByRole('heading', { name: 'Spec' })).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Build' })).toBeInTheDocument();
    expect(screen.getByLabelText('Your message')).toBeInTheDocument();
    // The session is remembered: opening the idea again does not start another.
    expect(localStorage.getItem('vibe.session.i1')).toBe('s1');
  });

  it("resumes the person's newest conversation on the idea from another device instead of starting one", async () => {
    const { calls } = renderIdea({
      'GET /api/ideas/i1': () => ({ status: 200, body: idea('specification') }),
      'GET /api/ideas/i1/sessions': () => ({
        status: 200,
        body: [
          { id: 'r1', idea_id: 'i1', user_id: 'u1', agent_type: 'build' },
          { id: 'x1', idea_id: 'i1', user_id: 'someone-else', agent_type: 'spec' },
          { id: 's1', idea_id: 'i1', user_id: 'u1', agent_type: 'spec' },
        ],
      }),
    });
    expect(await screen.findByLabelText('Your message')).toBeInTheDocument();
    await waitFor(() => expect(localStorage.getItem('vibe.session.i1')).toBe('s1'));
    expect(calls.filter((c) => c.method === 'POST')).toEqual([]);
  });

  it('lets the owner build once they confirm the spec, and shows the app when the build goes live', async () => {
    let confirmed = false;
    let built = false;
    const spec = () => ({ idea_id: 'i1', version: 1, spec: { name: 'Bike bookings' }, confirmed });
    const { calls, emit } = renderIdea({
      'GET /api/ideas/i1': () => ({ status: 200, body: idea('specification') }),
      'POST /api/sessions': () => ({ status: 201, body: { id: 's1', idea_id: 'i1' } }),
      'GET /api/ideas/i1/spec': () => ({ status: 200, body: spec() }),
      'POST /api/ideas/i1/spec/confirm': () => ((confirmed = true), { status: 200, body: spec() }),
      'POST /api/ideas/i1/build': () => ({ status: 202, body: { build_id: 'b1' } }),
      'GET /api/builds/b1': () => ({ status: 200, body: aBuild({ status: built ? 'succeeded' : 'queued', version_number: built ? 1 : null }) }),
      'GET /api/apps': () => ({
        status: 200,
        body: built
          ? [{ id: 'a1', idea_id: 'i1', slug: 'bike', name: 'Bike bookings', status: 'running', role: 'owner', health: 'unknown', live_version: 1 }]
          : [],
      }),
      'GET /api/apps/a1/versions': () => ({ status: 200, body: [] }),
      'GET /api/apps/a1/metrics?hours=24': () => ({ status: 200, body: { window_hours: 24, requests: 0, errors: 0, cpu_ms: 0, page_views: 0 } }),
      'GET /api/apps/a1/logs?limit=100': () => ({ status: 200, body: [] }),
    });
    const build = await screen.findByRole('button', { name: 'Build the app' });
    await screen.findByText('Version 1, not confirmed yet.');
    expect(build).toBeDisabled();
    await userEvent.click(screen.getByRole('button', { name: 'Confirm this spec' }));
    await waitFor(() => expect(build).toBeEnabled());
    await userEvent.click(build);
    expect(await screen.findByText('The build is queued.')).toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'POST').map((c) => c.path)).toEqual(['/api/sessions', '/api/ideas/i1/spec/confirm', '/api/ideas/i1/build']);
    built = true;
    emit({ type: 'build:progress', data: { build_id: 'b1', stage: 'live', status: 'done', percent: 100, final: true } });
    expect(await screen.findByRole('heading', { name: 'App: Bike bookings' })).toBeInTheDocument();
    expect(await screen.findByText('The build succeeded: version 1 is live.')).toBeInTheDocument();
    expect(screen.getByText('live', { selector: 'strong' })).toBeInTheDocument();
  });

  it('shows a viewer the idea without starting a session or offering the composer', async () => {
    const { calls } = renderIdea({ 'GET /api/ideas/i1': () => ({ status: 200, body: idea('specification', 'viewer') }) });
    expect(await screen.findByRole('heading', { name: 'Spec' })).toBeInTheDocument();
    expect(screen.getByText('No conversation to show yet.')).toBeInTheDocument();
    expect(screen.queryByLabelText('Your message')).not.toBeInTheDocument();
    expect(calls.some((c) => c.method !== 'GET')).toBe(false);
  });
});
