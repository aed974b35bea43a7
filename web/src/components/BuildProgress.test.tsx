import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router-dom';
import { BuildProgress } from './BuildProgress';
import { aBuild, fakeServer, type Route } from '../test-support';
import type { Build, StoredEvent } from '../api/types';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function live() {
  const listeners = new Set<(e: StoredEvent) => void>();
  let next = 1;
  return {
    subscribe: (l: (e: StoredEvent) => void) => {
      listeners.add(l);
      return () => void listeners.delete(l);
    },
    progress: (data: Record<string, unknown>, idea = 'i1') =>
      act(() => listeners.forEach((l) => l({ id: next++, type: 'build:progress', idea_id: idea, data, at: '' }))),
  };
}

function renderPanel(routes: Record<string, Route>, props: { canBuild?: boolean; specConfirmed?: boolean; onFinished?: (b: Build) => void } = {}) {
  const server = fakeServer({ 'GET /api/ideas/i1/builds': () => ({ status: 200, body: [] }), ...routes });
  const events = live();
  render(
    <MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <BuildProgress ideaId="i1" canBuild={props.canBuild ?? true} specConfirmed={props.specConfirmed ?? true} subscribe={events.subscribe} onFinished={props.onFinished} />
    </MemoryRouter>,
  );
  return { server, events };
}

const stage = (name: string, status: 'running' | 'done' | 'failed', message: string | null = null) => ({
  stage: name, status, started_at: '2026-11-27T05:00:00Z', duration_ms: status === 'running' ? null : 1500, message,
});

describe('BuildProgress', () => {
  it('shows the latest build on open: why it failed, its compile attempts and its failing tests', async () => {
    const failed = aBuild({
      status: 'failed',
      stage: 'testing',
      stages: [stage('generating', 'done'), stage('compiling', 'done'), stage('testing', 'failed', '1 of 3 tests failed')],
      attempts: [
        { number: 1, ok: false, duration_ms: 30_000, error: 'error[E0425]: cannot find value `title`' },
        { number: 2, ok: true, duration_ms: 45_000, error: null },
      ],
      test_report: {
        passed: 2,
        failed: 1,
        cases: [
          { name: 'books: list', passed: true, duration_ms: 12 },
          { name: 'books: create', passed: true, duration_ms: 20 },
          { name: 'books: anonymous cannot delete', passed: false, failure: 'expected 401, got 303', duration_ms: 9 },
        ],
      },
      error: 'tests failed: books: anonymous cannot delete',
    });
    renderPanel({ 'GET /api/ideas/i1/builds': () => ({ status: 200, body: [failed, aBuild({ id: 'b0', status: 'succeeded' })] }) });

    expect(await screen.findByRole('status')).toHaveTextContent('The build failed while testing: tests failed: books: anonymous cannot delete');
    expect(screen.queryByText('Why it failed:'), 'the reason is said once').not.toBeInTheDocument();
    const stages = screen.getByRole('list', { name: 'Build stages' });
    expect(within(stages).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'Generating the code: done (1.5 s)',
      'Compiling: done (1.5 s)',
      'Testing: failed (1.5 s) — 1 of 3 tests failed',
      'Deploying: pending',
      'Live: pending',
    ]);
    expect(screen.getByText('Attempt 1: failed in 30.0 s')).toBeInTheDocument();
    expect(screen.getByLabelText('Compiler output of attempt 1')).toHaveTextContent('cannot find value `title`');
    expect(screen.getByText('Attempt 2: compiled in 45.0 s')).toBeInTheDocument();
    expect(screen.getByText('2 passed, 1 failed')).toBeInTheDocument();
    const failing = screen.getByRole('list', { name: 'Failing tests of this build' });
    expect(failing).toHaveTextContent('books: anonymous cannot delete: expected 401, got 303');
    expect(screen.getByText('Passing tests of this build (2)')).toBeInTheDocument();
    expect(screen.queryByRole('progressbar')).not.toBeInTheDocument();
  });

  it('offers the build only once the spec is confirmed, and only to the owner', async () => {
    const { server } = renderPanel({}, { specConfirmed: false });
    expect(await screen.findByText(/No build yet/)).toBeInTheDocument();
    const button = screen.getByRole('button', { name: 'Build the app' });
    expect(button).toBeDisabled();
    expect(button).toHaveAccessibleDescription(/Confirm the spec first/);
    await userEvent.click(button);
    expect(server.calls.some((c) => c.method === 'POST')).toBe(false);
    cleanup();

    renderPanel({}, { canBuild: false });
    expect(await screen.findByText(/No build yet/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Build the app' })).not.toBeInTheDocument();
  });

  it('says clearly when credits do not cover the build, or when a build cannot start', async () => {
    let answer = { status: 402, body: { error: { code: 'insufficient_credits', message: 'this build costs 25 credits, you have 3' } } };
    renderPanel({ 'POST /api/ideas/i1/build': () => answer });
    const button = await screen.findByRole('button', { name: 'Build the app' });
    await userEvent.click(button);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Not enough credits for a build: this build costs 25 credits, you have 3');
    expect(within(alert).getByRole('link', { name: 'See your credits' })).toHaveAttribute('href', '/credits');

    answer = { status: 409, body: { error: { code: 'conflict', message: 'a build of this idea is already running' } } };
    await userEvent.click(button);
    expect(await screen.findByRole('alert')).toHaveTextContent('The build cannot start now: a build of this idea is already running');
    expect(screen.queryByRole('link', { name: 'See your credits' })).not.toBeInTheDocument();
  });

  it('starts a build, follows its stages from the events, announces them and reports how it ended', async () => {
    let record = aBuild({ id: 'b7', status: 'queued', stage: null });
    const onFinished = vi.fn();
    const { server, events } = renderPanel(
      {
        'POST /api/ideas/i1/build': () => ({ status: 202, body: { build_id: 'b7' } }),
        'GET /api/builds/b7': () => ({ status: 200, body: record }),
      },
      { onFinished },
    );
    await userEvent.click(await screen.findByRole('button', { name: 'Build the app' }));
    expect(await screen.findByRole('status')).toHaveTextContent('The build is queued.');
    expect(screen.getByRole('button', { name: 'Build the app' })).toBeDisabled();

    events.progress({ build_id: 'b7', stage: 'generating', status: 'running', percent: 5 });
    events.progress({ build_id: 'b7', stage: 'generating', status: 'done', percent: 20 });
    events.progress({ build_id: 'b7', stage: 'compiling', status: 'running', percent: 25, message: 'cargo build (attempt 1)' });
    expect(screen.getByRole('status')).toHaveTextContent('Compiling…');
    expect(screen.getByRole('progressbar', { name: 'Build progress' })).toHaveAttribute('value', '25');
    expect(screen.getByText('— cargo build (attempt 1)')).toBeInTheDocument();
    // Another idea's build does not show here.
    events.progress({ build_id: 'b9', stage: 'live', status: 'done', final: true }, 'i2');
    expect(screen.getByRole('status')).toHaveTextContent('Compiling…');

    record = aBuild({
      id: 'b7',
      status: 'succeeded',
      stage: 'live',
      stages: ['generating', 'compiling', 'testing', 'deploying', 'live'].map((s) => stage(s, 'done')),
      attempts: [{ number: 1, ok: true, duration_ms: 61_000, error: null }],
      test_report: { passed: 3, failed: 0, cases: [{ name: 'home page', passed: true }, { name: 'books: list', passed: true }, { name: 'books: create', passed: true }] },
      version_number: 1,
      credits_charged: 25,
    });
    for (const s of ['compiling', 'testing', 'deploying']) events.progress({ build_id: 'b7', stage: s, status: 'done' });
    events.progress({ build_id: 'b7', stage: 'live', status: 'done', percent: 100, final: true });
    expect(await screen.findByText('The build succeeded: version 1 is live.')).toBeInTheDocument();
    expect(await screen.findByText('3 passed, 0 failed')).toBeInTheDocument();
    expect(screen.getByText('Attempt 1: compiled in 1 min 1 s')).toBeInTheDocument();
    expect(screen.getByText(/25 credits/)).toBeInTheDocument();
    expect(screen.queryByRole('progressbar')).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Build the app' })).toBeEnabled();
    expect(onFinished).toHaveBeenCalledTimes(1);
    expect(onFinished).toHaveBeenCalledWith(expect.objectContaining({ id: 'b7', status: 'succeeded' }));
    expect(server.calls.filter((c) => c.method === 'POST')).toHaveLength(1);
  });
});
