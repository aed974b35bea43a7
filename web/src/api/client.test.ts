import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, api, onUnauthorized } from './client';

function answer(status: number, body?: unknown) {
  return vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } }));
}

afterEach(() => {
  vi.unstubAllGlobals();
  onUnauthorized(null);
});

describe('api client', () => {
  it('sends JSON with the cookie and parses the answer', async () => {
    const fetch = answer(201, { id: 'i1', name: 'Bikes' });
    vi.stubGlobal('fetch', fetch);
    const idea = await api.createIdea('Bikes', 'repair bookings');
    expect(idea).toEqual({ id: 'i1', name: 'Bikes' });
    const [path, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe('/api/ideas');
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('same-origin');
    expect(JSON.parse(init.body as string)).toEqual({ name: 'Bikes', summary: 'repair bookings' });
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('turns the error shape into an ApiError with code, message and field', async () => {
    vi.stubGlobal('fetch', answer(422, { error: { code: 'validation_failed', message: 'name: too long', field: 'name' } }));
    const failure = await api.createIdea('x'.repeat(500)).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 422, code: 'validation_failed', message: 'name: too long', field: 'name' });
  });

  it('escapes path segments', async () => {
    const fetch = answer(204);
    vi.stubGlobal('fetch', fetch);
    await api.removeCollaborator('idea/1', 'a+b@example.com');
    expect((fetch.mock.calls[0] as unknown as [string])[0]).toBe('/api/ideas/idea%2F1/collaborate/a%2Bb%40example.com');
  });

  it('reports an ended session on a 401, but not for a failed login', async () => {
    const ended = vi.fn();
    onUnauthorized(ended);
    vi.stubGlobal('fetch', answer(401, { error: { code: 'invalid_credentials', message: 'wrong email or password' } }));
    await expect(api.login('a@example.com', 'nope')).rejects.toMatchObject({ status: 401 });
    expect(ended).not.toHaveBeenCalled();
    vi.stubGlobal('fetch', answer(401, { error: { code: 'unauthorized', message: 'sign in first' } }));
    await expect(api.ideas()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(ended).toHaveBeenCalledTimes(1);
  });

  it('says the server cannot be reached when fetch fails', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    await expect(api.me()).rejects.toMatchObject({ status: 0, code: 'offline' });
  });

  it('survives a non-JSON error body', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>bad gateway</html>', { status: 502 })));
    await expect(api.ideas()).rejects.toMatchObject({ status: 502, code: 'http_502' });
  });
});
