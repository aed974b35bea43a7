import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render, screen } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { IdeaPage } from './IdeaPage';
import { LiveContext } from '../live';
import { fakeServer } from '../test-support';
import type { Idea, StoredEvent } from '../api/types';

beforeEach(() => localStorage.clear());
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const idea = (status: Idea['status'], role: Idea['role'] = 'owner'): Idea => ({
  id: 'i1', owner_id: 'u1', name: 'Bike bookings', summary: '', status, visibility: 'private', role, created_at: '', updated_at: '',
});

function renderIdea(server: Record<string, () => { status: number; body?: unknown }>) {
  const listeners = new Set<(e: StoredEvent) => void>();
  const calls = fakeServer({
    'GET /api/sessions/s1': () => ({ status: 200, body: { id: 's1', idea_id: 'i1', messages: [], credits_consumed: 4 } }),
    'GET /api/ideas/i1/spec': () => ({ status: 404, body: { error: { code: 'not_found', message: 'no spec' } } }),
    'GET /api/ideas/i1/collaborate': () => ({ status: 200, body: [] }),
    ...server,
  }).calls;
  const live = { state: 'open' as const, subscribe: (l: (e: StoredEvent) => void) => (listeners.add(l), () => void listeners.delete(l)) };
  render(
    <LiveContext.Provider value={live}>
      <MemoryRouter initialEntries={['/ideas/i1']} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <Routes>
          <Route path="/ideas/:id" element={<IdeaPage />} />
        </Routes>
      </MemoryRouter>
    </LiveContext.Provider>,
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

  it('shows a viewer the idea without starting a session or offering the composer', async () => {
    const { calls } = renderIdea({ 'GET /api/ideas/i1': () => ({ status: 200, body: idea('specification', 'viewer') }) });
    expect(await screen.findByRole('heading', { name: 'Spec' })).toBeInTheDocument();
    expect(screen.getByText('No conversation to show yet.')).toBeInTheDocument();
    expect(screen.queryByLabelText('Your message')).not.toBeInTheDocument();
    expect(calls.some((c) => c.method !== 'GET')).toBe(false);
  });
});
