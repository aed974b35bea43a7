// The changes the spec form makes, as pure functions: each takes a spec and returns an edited deep copy,
// touching only what it is about, so keys the form does not know survive. Where a change would leave
// the spec pointing at something gone (a removed field's display field, sample values or action
// settings; a revoked permission's pages and actions) it tidies that up too, so the server's validation
// (host/src/spec/semantic.rs) has less to refuse.

import { FIELD_TYPES, actionNeeds, OPERATIONS, pageNeeds, type AppSpec, type EnumValue, type FieldType, type Operation, type SpecEntity, type SpecField } from '../api/spec';

/** Words a name may not be (host/src/spec/reserved.rs): SQL reserved words, Rust keywords, implicit columns. */
const RESERVED = new Set(
  (
    'all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation ' +
    'column concurrently constraint create cross current_catalog current_date current_role current_schema current_time ' +
    'current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign freeze ' +
    'from full grant group having ilike in initially inner intersect into is isnull join lateral leading left like limit ' +
    'localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing primary references ' +
    'returning right select session_user similar some symmetric system_user table tablesample then to trailing true union ' +
    'unique user using variadic verbose when where window with ' +
    'abstract async await become box break const continue crate dyn enum extern final fn gen if impl let loop macro ' +
    'macro_rules match mod move mut override priv pub raw ref return safe self static struct super trait try type typeof ' +
    'unsafe unsized use virtual while yield ' +
    'id created_at updated_at'
  ).split(' '),
);

/** Keys a field may have whatever its type. */
const COMMON_KEYS = ['$comment', 'name', 'label', 'description', 'type'];

/** Keys a field may have besides the common ones, by type (the schema's `field` definition). */
const TYPE_KEYS: Record<FieldType, string[]> = {
  string: ['required', 'unique', 'min_length', 'max_length', 'pattern', 'default'],
  text: ['required', 'min_length', 'max_length', 'default'],
  integer: ['required', 'unique', 'min', 'max', 'default'],
  decimal: ['required', 'min', 'max', 'scale', 'default'],
  boolean: ['default'],
  date: ['required', 'unique', 'default'],
  datetime: ['required', 'unique', 'default'],
  email: ['required', 'unique', 'default'],
  url: ['required', 'unique', 'default'],
  enum: ['required', 'values', 'default'],
  reference: ['required', 'unique', 'entity', 'on_delete'],
};

export function isFieldType(type: string): type is FieldType {
  return (FIELD_TYPES as readonly string[]).includes(type);
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function edit(spec: AppSpec, change: (next: AppSpec) => void): AppSpec {
  const next = clone(spec);
  change(next);
  return next;
}

function entityIn(spec: AppSpec, name: string): SpecEntity {
  const entity = spec.entities.find((e) => e.name === name);
  if (!entity) throw new Error(`the spec has no entity \`${name}\``);
  return entity;
}

function fieldIn(entity: SpecEntity, name: string): SpecField {
  const field = entity.fields.find((f) => f.name === name);
  if (!field) throw new Error(`\`${entity.name}\` has no field \`${name}\``);
  return field;
}

/** `label` as an identifier: lowercase ASCII words joined by `_`, starting with a letter. */
export function snakeCase(label: string, prefix = 'field'): string {
  const words = label
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  const name = !words ? prefix : /^[a-z]/.test(words) ? words : `${prefix}_${words}`;
  return name.slice(0, 60).replace(/_+$/, '');
}

/** A name for `label` that is none of `taken` and no reserved word: `title`, `title_2`, `order_field`. */
export function uniqueName(label: string, taken: Iterable<string>, prefix = 'field'): string {
  let base = snakeCase(label, prefix);
  if (RESERVED.has(base)) base = `${base}_${prefix}`;
  const used = new Set(taken);
  let name = base;
  for (let n = 2; used.has(name); n += 1) name = `${base}_${n}`;
  return name;
}

/** Whether `value` (a sample value, an action's setting, a default) can be a value of `field`. */
export function fits(field: SpecField, value: unknown): boolean {
  if (value === null) return true;
  switch (field.type) {
    case 'integer':
      return Number.isInteger(value);
    case 'decimal':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'enum':
      return (field.values ?? []).some((v) => v.value === value);
    case 'date':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value);
    case 'datetime':
      return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value);
    case 'email':
      return typeof value === 'string' && value.includes('@');
    case 'url':
      return typeof value === 'string' && /^https?:\/\//.test(value);
    case 'reference':
      return false; // a reference's value is a sample record's key, which no other type's value is
    default:
      return typeof value === 'string';
  }
}

/** The field that names `entity`'s records if its display field is gone: the first that is no reference. */
function repointDisplayField(entity: SpecEntity) {
  const current = entity.fields.find((f) => f.name === entity.display_field);
  if (current && current.type !== 'reference') return;
  const next = entity.fields.find((f) => f.type !== 'reference') ?? entity.fields[0];
  if (next) entity.display_field = next.name;
}

/** Drops what sample records and custom actions of `entity` give `field` where `keep` says no. */
function tidyValues(spec: AppSpec, entity: string, field: string, keep: (value: unknown) => boolean) {
  for (const record of spec.sample_data ?? []) {
    const values = record.values as Record<string, unknown> | undefined;
    if (record.entity === entity && typeof values === 'object' && values && field in values && !keep(values[field])) delete values[field];
  }
  if (!spec.actions) return;
  const emptied = new Set<unknown>();
  for (const action of spec.actions) {
    const set = action.set as Record<string, unknown> | undefined;
    if (action.entity !== entity || typeof set !== 'object' || !set || !(field in set) || keep(set[field])) continue;
    delete set[field];
    // A custom action that sets nothing does nothing (and the schema wants at least one setting).
    if (Object.keys(set).length === 0) emptied.add(action);
  }
  spec.actions = spec.actions.filter((action) => !emptied.has(action));
}

export type AppKey = 'name' | 'summary' | 'description';

/** Sets the app's name, summary or description (an empty description is removed). */
export function setAppText(spec: AppSpec, key: AppKey, value: string): AppSpec {
  return edit(spec, (next) => {
    if (key === 'description' && value === '') delete next.app.description;
    else next.app[key] = value;
  });
}

export type EntityKey = 'label' | 'label_plural' | 'description' | 'display_field';

/** Sets an entity's label, plural label, description (empty: removed) or display field. */
export function setEntityText(spec: AppSpec, entity: string, key: EntityKey, value: string): AppSpec {
  return edit(spec, (next) => {
    const target = entityIn(next, entity);
    if (key === 'description' && value === '') delete target.description;
    else target[key] = value;
  });
}

/** Sets a field's label. */
export function setFieldLabel(spec: AppSpec, entity: string, field: string, label: string): AppSpec {
  return edit(spec, (next) => {
    fieldIn(entityIn(next, entity), field).label = label;
  });
}

/** Makes a field required or not (`required` is absent when false, its default; booleans have none). */
export function setFieldRequired(spec: AppSpec, entity: string, field: string, required: boolean): AppSpec {
  return edit(spec, (next) => {
    const target = fieldIn(entityIn(next, entity), field);
    if (required && target.type !== 'boolean') target.required = true;
    else delete target.required;
  });
}

/** Enum values for `labels` (one choice each, blank ones skipped), keeping the stored value of a
 *  choice whose label is unchanged, or which was renamed in place. */
export function choiceValues(labels: string[], old: EnumValue[] = []): EnumValue[] {
  const wanted = labels.map((l) => l.trim()).filter(Boolean);
  const used = new Set<string>();
  return wanted.map((label, i) => {
    const same = old.find((v) => v.label === label && !used.has(v.value));
    const renamed = old[i] && !wanted.includes(old[i].label) && !used.has(old[i].value) ? old[i] : undefined;
    const value = same?.value ?? renamed?.value ?? uniqueName(label, [...used, ...old.map((v) => v.value)], 'choice');
    used.add(value);
    return { value, label };
  });
}

/** Sets an enum field's choices from their labels; a default that is no longer a choice is dropped. */
export function setChoices(spec: AppSpec, entity: string, field: string, labels: string[]): AppSpec {
  return edit(spec, (next) => {
    const target = fieldIn(entityIn(next, entity), field);
    target.values = choiceValues(labels, target.values);
    if ('default' in target && !fits(target, target.default)) delete target.default;
  });
}

/** Points a reference field at another entity; sample values (keys of the old entity's records) go. */
export function setReferenceTarget(spec: AppSpec, entity: string, field: string, target: string): AppSpec {
  return edit(spec, (next) => {
    const changed = fieldIn(entityIn(next, entity), field);
    if (changed.entity === target) return;
    changed.entity = target;
    tidyValues(next, entity, field, (value) => value === null);
  });
}

/** Changes a field's type: keys the new type does not allow go, and so do values that no longer fit
 *  (its default, sample values, custom actions' settings); an enum starts with no choices, a reference
 *  points at another entity, and a display field that became a reference is replaced. */
export function setFieldType(spec: AppSpec, entity: string, field: string, type: FieldType): AppSpec {
  return edit(spec, (next) => {
    const owner = entityIn(next, entity);
    const target = fieldIn(owner, field);
    if (target.type === type) return;
    const allowed = [...COMMON_KEYS, ...TYPE_KEYS[type]];
    for (const key of Object.keys(target)) if (!allowed.includes(key)) delete target[key];
    target.type = type;
    if (type === 'enum') target.values = [];
    if (type === 'reference') target.entity = next.entities.find((e) => e.name !== entity)?.name ?? entity;
    for (const key of ['min', 'max', 'default']) if (key in target && !fits(target, target[key])) delete target[key];
    if (type === 'string') {
      // A text's lengths may exceed what a one-line string allows (1000).
      for (const key of ['min_length', 'max_length']) if (Number(target[key]) > 1000) delete target[key];
    }
    repointDisplayField(owner);
    tidyValues(next, entity, field, (value) => fits(target, value));
  });
}

export interface NewField {
  label: string;
  type: FieldType;
  required?: boolean;
  /** For an enum: the choices' labels. */
  choices?: string[];
  /** For a reference: the entity it refers to. */
  target?: string;
}

/** Adds a field at the end of `entity`'s fields, named after its label; returns the spec and the name. */
export function addField(spec: AppSpec, entity: string, field: NewField): { spec: AppSpec; name: string } {
  const owner = entityIn(spec, entity);
  const name = uniqueName(field.label, owner.fields.map((f) => f.name));
  const added: SpecField = { name, label: field.label.trim(), type: field.type };
  if (field.required && field.type !== 'boolean') added.required = true;
  if (field.type === 'enum') added.values = choiceValues(field.choices ?? []);
  if (field.type === 'reference') added.entity = field.target ?? entity;
  return { spec: edit(spec, (next) => entityIn(next, entity).fields.push(added)), name };
}

/** Removes a field and what refers to it: the display field moves to another field, sample values and
 *  custom actions' settings of it go (an action left setting nothing goes too). */
export function removeField(spec: AppSpec, entity: string, field: string): AppSpec {
  return edit(spec, (next) => {
    const owner = entityIn(next, entity);
    owner.fields = owner.fields.filter((f) => f.name !== field);
    repointDisplayField(owner);
    tidyValues(next, entity, field, () => false);
  });
}

/** Whether `role` may do `operation` on `entity`. */
export function allows(spec: AppSpec, role: string, entity: string, operation: Operation): boolean {
  return spec.permissions.some((p) => p.role === role && p.entity === entity && p.allow.includes(operation));
}

/** Grants or revokes one operation of one role on one entity. A grant left empty goes (unless it
 *  carries a comment); a revoke also takes the role off the pages and actions that need the operation
 *  on that entity, and a page or action left with no role goes. */
export function setPermission(spec: AppSpec, role: string, entity: string, operation: Operation, allowed: boolean): AppSpec {
  return edit(spec, (next) => {
    const index = next.permissions.findIndex((p) => p.role === role && p.entity === entity);
    const order = (op: string) => (OPERATIONS as readonly string[]).indexOf(op);
    if (allowed) {
      if (index < 0) next.permissions.push({ role, entity, allow: [operation] });
      else if (!next.permissions[index].allow.includes(operation)) {
        next.permissions[index].allow = [...next.permissions[index].allow, operation].sort((a, b) => order(a) - order(b));
      }
      return;
    }
    if (index >= 0) {
      const grant = next.permissions[index];
      grant.allow = grant.allow.filter((op) => op !== operation);
      if (grant.allow.length === 0 && !('$comment' in grant)) next.permissions.splice(index, 1);
    }
    // Only what this revoke emptied goes; anything else stays as it was.
    const emptied = new Set<unknown>();
    for (const page of next.pages ?? []) {
      if (page.entity !== entity || pageNeeds(page.kind) !== operation || !page.visible_to?.includes(role)) continue;
      page.visible_to = page.visible_to.filter((r) => r !== role);
      if (page.visible_to.length === 0) emptied.add(page);
    }
    for (const action of next.actions ?? []) {
      if (action.entity !== entity || actionNeeds(action.kind) !== operation || !action.roles?.includes(role)) continue;
      action.roles = action.roles.filter((r) => r !== role);
      if (action.roles.length === 0) emptied.add(action);
    }
    if (next.pages) next.pages = next.pages.filter((page) => !emptied.has(page));
    if (next.actions) next.actions = next.actions.filter((action) => !emptied.has(action));
  });
}
