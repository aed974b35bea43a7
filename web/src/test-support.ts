// A fake `fetch` for component tests: answers by method and path, records the calls.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import type { AppSpec } from './api/spec';
import type { Build } from './api/types';

export type Route = (body: unknown) => { status: number; body?: unknown };

export function fakeServer(routes: Record<string, Route>) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const fetch = vi.fn(async (path: string, init?: RequestInit) => {
    const method = init?.method ?? 'GET';
    const body = init?.body ? JSON.parse(init.body as string) : undefined;
    calls.push({ method, path, body });
    const route = routes[`${method} ${path}`];
    const answer = route ? route(body) : { status: 404, body: { error: { code: 'not_found', message: 'not found' } } };
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), { status: answer.status });
  });
  vi.stubGlobal('fetch', fetch);
  return { calls, fetch };
}

export const ada = {
  id: 'u1',
  email: 'ada@example.com',
  name: 'Ada',
  profile: {},
  role: 'user' as const,
  credits_balance: 100,
  subscription_tier: 'free',
  created_at: '2026-11-27T00:00:00Z',
};

/** A build record of idea `i1`, running, with `overrides`. */
export function aBuild(overrides: Partial<Build> = {}): Build {
  return {
    id: 'b1', idea_id: 'i1', app_id: null, spec_version: 2, status: 'running', stage: 'compiling', stages: [], attempts: [],
    test_report: null, credits_charged: null, version_number: null, source_commit: null, error: null,
    created_at: '2026-11-27T05:00:00Z', finished_at: null, ...overrides,
  };
}

/** One of the spec format's examples (host/schemas/examples), a fresh copy each time. */
export function exampleSpec(name: 'book-club' | 'room-booking' | 'crm' = 'book-club'): AppSpec {
  const path = join(dirname(fileURLToPath(import.meta.url)), '../../host/schemas/examples', `${name}.json`);
  return JSON.parse(readFileSync(path, 'utf8')) as AppSpec;
}
