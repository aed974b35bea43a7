// The typed client of the Vibe API. Every call goes through `request`: same-origin, the session cookie
// (the browser sends it and the `Origin` header the server checks on writes), JSON in and out, and
// errors as `ApiError` carrying the server's `{error: {code, message}}`. A 401 on any call tells the
// app the session is over (see `onUnauthorized`), which sends the person back to the login page.

import type {
  AgentTypeSummary,
  AgentTypeView,
  App,
  AppMetrics,
  AppVersion,
  Build,
  BuildStarted,
  Checkout,
  Collaborator,
  Credits,
  Idea,
  IdeaRole,
  Invited,
  LogLine,
  Message,
  Plugin,
  PluginVersion,
  Posted,
  Session,
  SessionWithTranscript,
  SignedIn,
  SpecView,
  User,
} from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What to tell the person when `failure` happened: the server's message, or `fallback` for anything else. */
export function errorMessage(failure: unknown, fallback: string): string {
  return failure instanceof ApiError ? failure.message : fallback;
}

let unauthorizedHandler: (() => void) | null = null;

/** Registers what to do when the server says the session is over. */
export function onUnauthorized(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'offline', 'The server cannot be reached. Check your connection and try again.');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
    const failure = new ApiError(
      response.status,
      error?.code ?? 'http_' + response.status,
      error?.message ?? `The server answered ${response.status}.`,
      error?.field,
    );
    if (response.status === 401 && !path.startsWith('/api/auth/')) unauthorizedHandler?.();
    throw failure;
  }
  return parsed as T;
}

const enc = encodeURIComponent;

export const api = {
  signup: (email: string, password: string, name: string) =>
    request<SignedIn>('POST', '/api/auth/signup', { email, password, name: name || undefined }),
  login: (email: string, password: string) => request<SignedIn>('POST', '/api/auth/login', { email, password }),
  logout: () => request<void>('POST', '/api/auth/logout'),
  requestMagicLink: (email: string) => request<void>('POST', '/api/auth/magic-link', { email }),
  confirmMagicLink: (token: string) => request<SignedIn>('POST', '/api/auth/magic-link/confirm', { token }),
  me: () => request<User>('GET', '/api/users/me'),

  ideas: () => request<Idea[]>('GET', '/api/ideas'),
  idea: (id: string) => request<Idea>('GET', `/api/ideas/${enc(id)}`),
  createIdea: (name: string, summary?: string) => request<Idea>('POST', '/api/ideas', { name, summary }),
  updateIdea: (id: string, patch: { name?: string; summary?: string; visibility?: string }) =>
    request<Idea>('PATCH', `/api/ideas/${enc(id)}`, patch),
  deleteIdea: (id: string) => request<void>('DELETE', `/api/ideas/${enc(id)}`),

  collaborators: (ideaId: string) => request<Collaborator[]>('GET', `/api/ideas/${enc(ideaId)}/collaborate`),
  invite: (ideaId: string, email: string, role: Exclude<IdeaRole, 'owner'>) =>
    request<Invited>('POST', `/api/ideas/${enc(ideaId)}/collaborate`, { email, role }),
  removeCollaborator: (ideaId: string, email: string) =>
    request<void>('DELETE', `/api/ideas/${enc(ideaId)}/collaborate/${enc(email)}`),

  startSession: (ideaId: string, agentType = 'ideation') =>
    request<Session>('POST', '/api/sessions', { idea_id: ideaId, agent_type: agentType }),
  session: (id: string) => request<SessionWithTranscript>('GET', `/api/sessions/${enc(id)}`),
  ideaSessions: (ideaId: string) => request<Session[]>('GET', `/api/ideas/${enc(ideaId)}/sessions`),
  sendMessage: (sessionId: string, content: string) =>
    request<Message>('POST', `/api/sessions/${enc(sessionId)}/message`, { content }),

  spec: (ideaId: string) => request<SpecView>('GET', `/api/ideas/${enc(ideaId)}/spec`),
  saveSpec: (ideaId: string, spec: unknown, expectedVersion: number) =>
    request<SpecView>('PUT', `/api/ideas/${enc(ideaId)}/spec`, { spec, expected_version: expectedVersion }),
  confirmSpec: (ideaId: string, version: number) =>
    request<SpecView>('POST', `/api/ideas/${enc(ideaId)}/spec/confirm`, { version }),

  startBuild: (ideaId: string) => request<BuildStarted>('POST', `/api/ideas/${enc(ideaId)}/build`),
  ideaBuilds: (ideaId: string) => request<Build[]>('GET', `/api/ideas/${enc(ideaId)}/builds`),
  build: (id: string) => request<Build>('GET', `/api/builds/${enc(id)}`),

  credits: (before?: number) =>
    request<Credits>('GET', `/api/credits${before === undefined ? '' : `?before=${before}`}`),
  /** Operators: the account with this email. */
  findAccount: (email: string) => request<User>('GET', `/api/accounts?email=${encodeURIComponent(email)}`),
  /** Operators: an account's balance, usage and ledger. */
  accountCredits: (id: string) => request<Credits>('GET', `/api/credits/users/${enc(id)}`),
  /** Operators: grants credits, once per key. */
  grantCredits: (id: string, amount: number, reason: string, idempotencyKey: string) =>
    request<Posted>('POST', `/api/accounts/${enc(id)}/grants`, { amount, reason: reason || undefined, idempotency_key: idempotencyKey }),
  /** Operators: lifts a spending pause. */
  resumeSpending: (id: string) => request<unknown>('POST', `/api/credits/users/${enc(id)}/resume`),
  /** Starts a purchase: the Stripe Checkout page to send the buyer to. */
  buyCredits: (credits: number) => request<Checkout>('POST', '/api/credits', { credits }),

  apps: () => request<App[]>('GET', '/api/apps'),
  app: (id: string) => request<App>('GET', `/api/apps/${enc(id)}`),
  appVersions: (id: string) => request<AppVersion[]>('GET', `/api/apps/${enc(id)}/versions`),
  rollback: (id: string, version: number) => request<unknown>('POST', `/api/apps/${enc(id)}/rollback`, { version }),
  pause: (id: string) => request<unknown>('POST', `/api/apps/${enc(id)}/pause`),
  resume: (id: string) => request<unknown>('POST', `/api/apps/${enc(id)}/resume`),
  /** Where the browser downloads version `version`'s code (a .tar.gz); a link, not a fetch. */
  sourceUrl: (id: string, version: number) => `/api/apps/${enc(id)}/source?version=${version}`,
  /** Opens the app on its own host, signed in (a redirect with a one-minute ticket); a link, not a fetch. */
  openUrl: (id: string) => `/api/apps/${enc(id)}/open`,
  logs: (id: string) => request<LogLine[]>('GET', `/api/apps/${enc(id)}/logs?limit=100`),
  metrics: (id: string, hours = 24) => request<AppMetrics>('GET', `/api/apps/${enc(id)}/metrics?hours=${hours}`),

  plugins: () => request<Plugin[]>('GET', '/api/plugins'),
  pluginVersions: (name: string) => request<PluginVersion[]>('GET', `/api/plugins/${enc(name)}/versions`),
  /** Publishes a signed package (the file `vibe plugin sign` writes), as it is. */
  publishPlugin: (signedPackage: unknown) => request<PluginVersion>('POST', '/api/plugins', signedPackage),
  approve: (name: string, version: string) =>
    request<unknown>('POST', `/api/plugins/${enc(name)}/versions/${enc(version)}/approve`),
  agentTypes: () => request<AgentTypeSummary[]>('GET', '/api/agents'),
  agentType: (type: string) => request<AgentTypeView>('GET', `/api/agents/${enc(type)}`),
  setRouting: (type: string, weights: Record<string, number>, expectedRevision?: number) =>
    request<unknown>('PUT', `/api/agents/${enc(type)}/routing`, { weights, expected_revision: expectedRevision }),
  rollbackRouting: (type: string) => request<unknown>('POST', `/api/agents/${enc(type)}/routing/rollback`),
};
