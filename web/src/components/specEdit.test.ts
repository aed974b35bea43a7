import { describe, expect, it } from 'vitest';
import { asAppSpec, type AppSpec } from '../api/spec';
import { exampleSpec } from '../test-support';
import {
  addField,
  removeField,
  setAppText,
  setChoices,
  setFieldRequired,
  setFieldType,
  setPermission,
  snakeCase,
  uniqueName,
} from './specEdit';

const entity = (spec: AppSpec, name: string) => spec.entities.find((e) => e.name === name)!;
const field = (spec: AppSpec, e: string, f: string) => entity(spec, e).fields.find((x) => x.name === f);

describe('names', () => {
  it('turns labels into snake_case identifiers', () => {
    expect(snakeCase('Due date')).toBe('due_date');
    expect(snakeCase('  Café owner’s e-mail! ')).toBe('cafe_owner_s_e_mail');
    expect(snakeCase('2nd try')).toBe('field_2nd_try');
    expect(snakeCase('???')).toBe('field');
    expect(snakeCase('x'.repeat(80))).toHaveLength(60);
  });

  it('makes names unique and avoids reserved words and implicit columns', () => {
    expect(uniqueName('Title', ['author'])).toBe('title');
    expect(uniqueName('Title', ['title', 'title_2'])).toBe('title_3');
    expect(uniqueName('Order', [])).toBe('order_field');
    expect(uniqueName('ID', [])).toBe('id_field');
    expect(uniqueName('Type', ['type_field'])).toBe('type_field_2');
  });
});

describe('spec edits', () => {
  it('never change the spec they are given', () => {
    const spec = exampleSpec();
    const before = JSON.stringify(spec);
    removeField(spec, 'book', 'title');
    setFieldType(spec, 'book', 'pages', 'string');
    setPermission(spec, 'member', 'book', 'create', false);
    addField(spec, 'book', { label: 'Genre', type: 'string' });
    expect(JSON.stringify(spec)).toBe(before);
  });

  it('add an enum field with its choices and nothing else', () => {
    const spec = exampleSpec();
    const { spec: next, name } = addField(spec, 'book', { label: ' Priority ', type: 'enum', required: true, choices: ['Low', '', 'High', 'Low'] });
    expect(name).toBe('priority');
    const expected = exampleSpec();
    entity(expected, 'book').fields.push({
      name: 'priority', label: 'Priority', type: 'enum', required: true,
      values: [{ value: 'low', label: 'Low' }, { value: 'high', label: 'High' }, { value: 'low_2', label: 'Low' }],
    });
    expect(next).toEqual(expected);
  });

  it('add a reference field under a free name, not required by default', () => {
    const { spec, name } = addField(exampleSpec(), 'meeting', { label: 'Book', type: 'reference', target: 'book' });
    expect(name).toBe('book_2');
    expect(field(spec, 'meeting', 'book_2')).toEqual({ name: 'book_2', label: 'Book', type: 'reference', entity: 'book' });
  });

  it('remove a display field: the next field that is no reference names the records, sample values go', () => {
    const next = removeField(exampleSpec(), 'snack_assignment', 'snack');
    const expected = exampleSpec();
    const snacks = entity(expected, 'snack_assignment');
    snacks.fields = snacks.fields.filter((f) => f.name !== 'snack');
    snacks.display_field = 'member_name'; // `meeting`, the first field, is a reference
    for (const record of expected.sample_data!) if (record.entity === 'snack_assignment') delete record.values.snack;
    expect(next).toEqual(expected);
  });

  it('remove a field a custom action sets: the action goes when it sets nothing else', () => {
    const next = removeField(exampleSpec(), 'book', 'status');
    expect(next.actions!.map((a) => a.name)).not.toContain('start_reading');
    expect(next.actions!.map((a) => a.name)).not.toContain('finish_book');
    expect(next.actions).toHaveLength(exampleSpec().actions!.length - 2);
    expect(next.sample_data!.filter((r) => 'status' in r.values)).toEqual([]);
    expect(entity(next, 'book').display_field).toBe('title');
  });

  it('change a type: keys the new type does not allow and values that no longer fit go', () => {
    const pages = setFieldType(exampleSpec(), 'book', 'pages', 'string');
    expect(field(pages, 'book', 'pages')).toEqual({ name: 'pages', label: 'Pages', type: 'string' });
    expect(pages.sample_data!.filter((r) => 'pages' in r.values)).toEqual([]);

    const held = setFieldType(exampleSpec(), 'meeting', 'held', 'enum');
    expect(field(held, 'meeting', 'held')).toEqual({ name: 'held', label: 'Held', type: 'enum', values: [] });
    expect(held.actions!.map((a) => a.name)).not.toContain('mark_held');

    const title = setFieldType(exampleSpec(), 'book', 'title', 'reference');
    expect(field(title, 'book', 'title')).toEqual({ name: 'title', label: 'Title', type: 'reference', required: true, entity: 'meeting' });
    expect(entity(title, 'book').display_field).toBe('author');

    const boolean = setFieldType(exampleSpec(), 'book', 'author', 'boolean');
    expect(field(boolean, 'book', 'author')).toEqual({ name: 'author', label: 'Author', type: 'boolean' });
    expect(setFieldRequired(boolean, 'book', 'author', true)).toEqual(boolean);

    const cost = setFieldType(exampleSpec(), 'snack_assignment', 'cost', 'integer');
    expect(field(cost, 'snack_assignment', 'cost')).toEqual({ name: 'cost', label: 'Cost', type: 'integer', min: 0, max: 1000 });
    expect(cost.sample_data!.filter((r) => r.entity === 'snack_assignment').map((r) => r.values.cost)).toEqual([undefined, 4]);
  });

  it('rename, add and drop enum choices, keeping stored values where it can', () => {
    // As typed in the choices box, one change at a time: rename in place, add a line, drop the first.
    let next = setChoices(exampleSpec(), 'book', 'status', ['Suggested', 'Reading now', 'Done']);
    expect(field(next, 'book', 'status')!.default).toBe('suggested');
    next = setChoices(next, 'book', 'status', ['Suggested', 'Reading now', 'Done', 'Abandoned']);
    next = setChoices(next, 'book', 'status', ['', 'Reading now', 'Done', 'Abandoned']);
    expect(field(next, 'book', 'status')).toEqual({
      $comment: 'Enum values are what is stored; labels are what people see.',
      name: 'status', label: 'Status', type: 'enum', required: true,
      values: [{ value: 'reading', label: 'Reading now' }, { value: 'finished', label: 'Done' }, { value: 'abandoned', label: 'Abandoned' }],
    });
  });

  it('grant a permission in the usual order of operations', () => {
    const next = setPermission(exampleSpec(), 'member', 'book', 'update', true);
    expect(next.permissions.find((p) => p.role === 'member' && p.entity === 'book')!.allow).toEqual(['read', 'create', 'update']);
    const fresh = setPermission(exampleSpec(), 'visitor', 'meeting', 'read', true);
    expect(fresh.permissions.at(-1)).toEqual({ role: 'visitor', entity: 'meeting', allow: ['read'] });
  });

  it('revoke a permission: the role leaves the pages and actions that need it, emptied ones go', () => {
    const member = setPermission(exampleSpec(), 'member', 'book', 'create', false);
    const expected = exampleSpec();
    expected.permissions.find((p) => p.role === 'member' && p.entity === 'book')!.allow = ['read'];
    expected.pages!.find((p) => p.kind === 'create' && p.entity === 'book')!.visible_to = ['organizer'];
    expected.actions!.find((a) => a.name === 'suggest_book')!.roles = ['organizer'];
    expect(member).toEqual(expected);

    const organizer = setPermission(exampleSpec(), 'organizer', 'meeting', 'update', false);
    expect(organizer.pages!.some((p) => p.kind === 'edit' && p.entity === 'meeting')).toBe(false);
    expect(organizer.actions!.map((a) => a.name).filter((n) => ['edit_meeting', 'mark_held'].includes(n))).toEqual([]);

    const visitor = setPermission(exampleSpec(), 'visitor', 'book', 'read', false);
    expect(visitor.permissions.some((p) => p.role === 'visitor')).toBe(false);
    expect(visitor.pages!.find((p) => p.kind === 'home')!.visible_to).toContain('visitor');
  });

  it('drop an emptied description instead of saving an empty one', () => {
    const next = setAppText(exampleSpec(), 'description', '');
    expect('description' in next.app).toBe(false);
    expect(setAppText(exampleSpec(), 'name', 'Readers').app.name).toBe('Readers');
  });

  it('keep every example spec in the shape the form reads', () => {
    for (const name of ['book-club', 'room-booking', 'crm'] as const) expect(asAppSpec(exampleSpec(name))).not.toBeNull();
    expect(asAppSpec({ name: 'Bike bookings' })).toBeNull();
    expect(asAppSpec({ ...exampleSpec(), entities: [{ name: 'x' }] })).toBeNull();
  });
});
