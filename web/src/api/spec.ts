// The app spec's shape (host/schemas/app-spec-v1.schema.json) as far as the UI reads and edits it.
// Lenient on purpose: agents write specs, so every object may carry keys not named here, and the form
// keeps them untouched. `asAppSpec` says whether a spec has the shape the readable view and the form need.

export const FIELD_TYPES = [
  'string', 'text', 'integer', 'decimal', 'boolean', 'date', 'datetime', 'email', 'url', 'enum', 'reference',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** What each field type is called for people. */
export const FIELD_TYPE_LABELS: Record<FieldType, string> = {
  string: 'Short text',
  text: 'Long text',
  integer: 'Whole number',
  decimal: 'Decimal number',
  boolean: 'Yes or no',
  date: 'Date',
  datetime: 'Date and time',
  email: 'Email address',
  url: 'Web address',
  enum: 'One of a list',
  reference: 'Link to a record',
};

export const OPERATIONS = ['read', 'create', 'update', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface EnumValue {
  value: string;
  label: string;
}

export interface SpecField {
  name: string;
  label: string;
  type: string;
  description?: string;
  required?: boolean;
  unique?: boolean;
  values?: EnumValue[];
  entity?: string;
  [key: string]: unknown;
}

export interface SpecEntity {
  name: string;
  plural: string;
  label: string;
  label_plural: string;
  description?: string;
  display_field: string;
  fields: SpecField[];
  [key: string]: unknown;
}

export interface SpecRole {
  name: string;
  label: string;
  description?: string;
  [key: string]: unknown;
}

export interface SpecPermission {
  role: string;
  entity: string;
  allow: string[];
  [key: string]: unknown;
}

export interface SpecPage {
  kind: string;
  entity?: string;
  title: string;
  visible_to: string[];
  [key: string]: unknown;
}

export interface SpecAction {
  name: string;
  kind: string;
  entity: string;
  label: string;
  roles: string[];
  set?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface SampleRecord {
  entity: string;
  key?: string;
  values: Record<string, unknown>;
  [key: string]: unknown;
}

export interface AppSpec {
  app: { name: string; slug: string; summary: string; description?: string; [key: string]: unknown };
  entities: SpecEntity[];
  roles: SpecRole[];
  default_roles?: { owner?: string; signed_in?: string; anonymous?: string | null; [key: string]: unknown };
  permissions: SpecPermission[];
  pages?: SpecPage[];
  actions?: SpecAction[];
  sample_data?: SampleRecord[];
  [key: string]: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objects(value: unknown): value is Record<string, unknown>[] {
  return Array.isArray(value) && value.every(isObject);
}

/** The spec, if it has the shape the readable view and the form rely on (its details may still be wrong). */
export function asAppSpec(value: unknown): AppSpec | null {
  if (!isObject(value) || !isObject(value.app) || !objects(value.entities) || !objects(value.roles)) return null;
  if (!objects(value.permissions) || !value.permissions.every((p) => Array.isArray(p.allow))) return null;
  if (!value.entities.every((entity) => objects(entity.fields))) return null;
  for (const list of ['pages', 'actions', 'sample_data']) {
    if (value[list] !== undefined && !objects(value[list])) return null;
  }
  return value as unknown as AppSpec;
}

/** The operation a page of `kind` needs on its entity (none for `home`). */
export function pageNeeds(kind: string): Operation | null {
  return ({ list: 'read', detail: 'read', create: 'create', edit: 'update' } as Record<string, Operation>)[kind] ?? null;
}

/** The operation an action of `kind` needs on its entity (`custom` changes a record). */
export function actionNeeds(kind: string): Operation | null {
  return ({ create: 'create', update: 'update', delete: 'delete', custom: 'update' } as Record<string, Operation>)[kind] ?? null;
}
