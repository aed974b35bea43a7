// The API's shapes, as host/src/api/*.rs serialises them (see /api/openapi.json). Kept in one place so a
// change on the server is one change here.

export type Role = 'user' | 'operator';
export type IdeaRole = 'owner' | 'collaborator' | 'viewer';
export type Phase = 'ideation' | 'specification' | 'building' | 'live';
export type Visibility = 'private' | 'collaborators' | 'public';

export interface User {
  id: string;
  email: string;
  name: string;
  profile: unknown;
  role: Role;
  credits_balance: number;
  subscription_tier: string;
  created_at: string;
}

export interface SignedIn {
  user: User;
  token: string;
}

export interface Idea {
  id: string;
  owner_id: string;
  name: string;
  summary: string;
  status: Phase;
  visibility: Visibility;
  role: IdeaRole;
  created_at: string;
  updated_at: string;
}

export interface Collaborator {
  email: string;
  user_id: string | null;
  name: string | null;
  role: IdeaRole;
  invited_by: string | null;
  invited_at: string;
}

export interface Invited {
  collaborator: Collaborator;
  mail_sent: boolean;
}

export interface Session {
  id: string;
  idea_id: string;
  user_id: string;
  agent_type: string;
  agent_version: string | null;
  status: string;
  credits_consumed: number;
  started_at: string;
  ended_at: string | null;
}

export interface Message {
  id: number;
  session_id: string;
  role: string;
  author_id: string | null;
  agent_type: string | null;
  agent_version: string | null;
  content: string;
  created_at: string;
}

/** `GET /api/sessions/{id}`; `phase`, `guided` and `pending_turns` come with the orchestrator. */
export interface SessionWithTranscript extends Session {
  messages: Message[];
  phase?: Phase;
  guided?: boolean;
  pending_turns?: number;
}

export interface SpecView {
  idea_id: string;
  version: number;
  spec: unknown;
  confirmed: boolean;
}

export interface LedgerEntry {
  id: number;
  kind: string;
  amount: number;
  balance_after: number;
  reason: string;
  reference_type: string | null;
  reference_id: string | null;
  created_at: string;
}

/** Credits spent on one session, build or app. */
export interface UsageLine {
  id: string;
  credits: number;
  entries: number;
  last_at: string;
}

export interface Credits {
  balance: number;
  /** Held by work in progress (LLM calls, builds). */
  held: number;
  /** What may be spent now: the balance minus what is held. */
  available: number;
  /** Set while spending is paused after a consumption spike. */
  spending_paused: { reason: string; until: string } | null;
  usage: { sessions: UsageLine[]; builds: UsageLine[]; apps: UsageLine[]; other: number };
  ledger: LedgerEntry[];
  next_before: number | null;
}

/** A ledger entry as written (or, `replayed`, as first written under the same key). */
export interface Posted {
  ledger_id: number;
  amount: number;
  balance_after: number;
  replayed: boolean;
}

/** A Stripe Checkout session to pay for credits on. */
export interface Checkout {
  purchase_id: string;
  checkout_session_id: string;
  url: string;
  credits: number;
  amount: number;
  currency: string;
}

export interface App {
  id: string;
  idea_id: string | null;
  owner_id: string;
  slug: string;
  name: string;
  status: string;
  url: string;
  live_version_id: string | null;
  /** The live version's number (with the build pipeline). */
  live_version?: number | null;
  /** What the platform's health checks last saw (with the build pipeline). */
  health?: AppHealth;
  role: IdeaRole;
  created_at: string;
  deployed_at: string | null;
}

export interface AppVersion {
  id: string;
  app_id: string;
  number: number;
  component_digest: string;
  migrations: string[];
  config_names: string[];
  live: boolean;
  /** The build that made this version; absent for a version deployed by hand (`vibe app deploy`). */
  build_id?: string | null;
  created_at: string;
}

export type AppHealth = 'unknown' | 'healthy' | 'failing';

/** A build's stages, in the order the pipeline runs them. */
export const BUILD_STAGES = ['generating', 'compiling', 'testing', 'deploying', 'live'] as const;
export type BuildStage = (typeof BUILD_STAGES)[number];
export type BuildStatus = 'queued' | 'running' | 'succeeded' | 'failed';
export type StageStatus = 'running' | 'done' | 'failed';

export interface BuildStageRecord {
  stage: string;
  status: StageStatus;
  started_at: string | null;
  duration_ms: number | null;
  message: string | null;
}

/** One compile attempt (a failed one is repaired and tried again). */
export interface BuildAttempt {
  number: number;
  ok: boolean;
  duration_ms: number | null;
  error: string | null;
}

export interface TestCase {
  name: string;
  passed: boolean;
  failure?: string | null;
  duration_ms?: number | null;
}

export interface TestReport {
  passed: number;
  failed: number;
  cases: TestCase[];
}

/** `GET /api/builds/{id}`, and each item of `GET /api/ideas/{id}/builds` (newest first). */
export interface Build {
  id: string;
  idea_id: string;
  app_id: string | null;
  spec_version: number;
  status: BuildStatus;
  stage: string | null;
  stages: BuildStageRecord[];
  attempts: BuildAttempt[];
  test_report: TestReport | null;
  credits_charged: number | null;
  version_number: number | null;
  source_commit: string | null;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface BuildStarted {
  build_id: string;
}

export interface LogLine {
  id: number;
  request_id: string;
  source: string;
  level: string;
  message: string;
  at: string;
}

export interface MetricsBucket {
  /** Where the slice starts (RFC 3339); it ends where the next one starts. */
  from: string;
  requests: number;
  errors: number;
}

export interface AppMetrics {
  window_hours: number;
  requests: number;
  errors: number;
  limit_hits: number;
  cpu_ms: number;
  page_views: number;
  /** Requests and errors over the window, oldest first, in equal slices. */
  series: MetricsBucket[];
  [field: string]: unknown;
}

export interface Plugin {
  name: string;
  publisher: string;
  latest_version: string;
  versions: number;
  created_at: string;
}

export interface PluginVersion {
  plugin: string;
  version: string;
  version_ref: string;
  digest: string;
  agent_types: string[];
  capabilities: unknown[];
  description: string;
  publisher: string;
  approval: string;
  approval_reasons: string[];
  deprecated: boolean;
  published_at: string;
}

export interface AgentTypeSummary {
  agent_type: string;
  status: string;
  routing_revision: number | null;
  versions: number;
}

export interface TrackRecord {
  version: string;
  calls: number;
  ok: number;
  errors: number;
  error_rate: number;
  latency_p50_us: number | null;
  latency_p99_us: number | null;
  fuel_mean: number | null;
  credits_total: number;
}

export interface VersionStanding {
  version: string;
  digest: string | null;
  status: string;
  approval: string;
  weight: number;
  track: TrackRecord | null;
}

export interface RoutingView {
  agent_type: string;
  revision: number | null;
  weights: Record<string, number>;
  kind: string | null;
  rolls_back_to: number | null;
}

export interface AgentTypeView {
  agent_type: string;
  status: string;
  description: string;
  routing: RoutingView;
  versions: VersionStanding[];
}

/** One frame of `/api/ws` (host/src/events/mod.rs). */
export interface StoredEvent {
  id: number;
  type: string;
  idea_id?: string | null;
  app_id?: string | null;
  data: Record<string, unknown>;
  at: string;
}
