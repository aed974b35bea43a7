// The spec for people who do not read JSON: what the app is, what it keeps track of (each entity with
// a table of its fields and their rules), who uses it, and who may do what. Shown to everyone.

import { FIELD_TYPE_LABELS, OPERATIONS, type AppSpec, type SpecField } from '../api/spec';
import { PermissionTable } from './PermissionTable';
import { allows, isFieldType } from './specEdit';

function show(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

/** What a field's type is called, for people. */
export function typeLabel(type: string): string {
  return isFieldType(type) ? FIELD_TYPE_LABELS[type] : type;
}

/** A field's description and its rules, in words. */
function fieldNotes(spec: AppSpec, field: SpecField): string[] {
  const notes: string[] = [];
  if (field.description) notes.push(field.description);
  if (field.type === 'reference') {
    const target = spec.entities.find((e) => e.name === field.entity)?.label ?? field.entity;
    notes.push(`refers to a ${target}`);
    if (field.on_delete === 'cascade') notes.push(`deleted with its ${target}`);
    if (field.on_delete === 'set_null') notes.push(`cleared when its ${target} is deleted`);
  }
  if (field.type === 'enum' && Array.isArray(field.values)) notes.push(`choices: ${field.values.map((v) => v.label).join(', ')}`);
  if (field.type === 'boolean') notes.push('always yes or no');
  if (field.min_length !== undefined) notes.push(`at least ${show(field.min_length)} characters`);
  if (field.max_length !== undefined) notes.push(`at most ${show(field.max_length)} characters`);
  if (field.min !== undefined) notes.push(`at least ${show(field.min)}`);
  if (field.max !== undefined) notes.push(`at most ${show(field.max)}`);
  if (field.scale !== undefined) notes.push(`${show(field.scale)} digits after the point`);
  if (field.pattern !== undefined) notes.push(`must match the pattern ${show(field.pattern)}`);
  if (field.unique) notes.push('no two records share it');
  if (field.default !== undefined) {
    const choice = field.type === 'enum' ? field.values?.find((v) => v.value === field.default)?.label : undefined;
    notes.push(`${choice ?? show(field.default)} unless given`);
  }
  return notes;
}

export function SpecReadable({ spec }: { spec: AppSpec }) {
  const roleLabel = (name: string | null | undefined) => spec.roles.find((r) => r.name === name)?.label ?? name;
  const defaults = spec.default_roles;
  return (
    <div className="spec-readable">
      <h3>{spec.app.name}</h3>
      <p>{spec.app.summary}</p>
      {spec.app.description && <p>{spec.app.description}</p>}

      <h3>What it keeps track of</h3>
      {spec.entities.map((entity) => {
        const display = entity.fields.find((f) => f.name === entity.display_field);
        return (
          <section key={entity.name} className="spec-entity" aria-labelledby={`spec-entity-${entity.name}`}>
            <h4 id={`spec-entity-${entity.name}`}>
              {entity.label} <span className="hint">({entity.label_plural})</span>
            </h4>
            {entity.description && <p>{entity.description}</p>}
            {display && <p className="hint">Each {entity.label} is named by its {display.label}.</p>}
            {/* Focusable so the table can be scrolled sideways from the keyboard on a narrow screen. */}
            <div className="table-scroll" tabIndex={0} role="region" aria-label={`Fields of ${entity.label}`}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Field</th>
                    <th scope="col">Name</th>
                    <th scope="col">Type</th>
                    <th scope="col">Required</th>
                    <th scope="col">Rules and notes</th>
                  </tr>
                </thead>
                <tbody>
                  {entity.fields.map((field) => (
                    <tr key={field.name}>
                      <th scope="row">{field.label}</th>
                      <td>
                        <code>{field.name}</code>
                      </td>
                      <td>{typeLabel(field.type)}</td>
                      <td>{field.required ? 'Yes' : 'No'}</td>
                      <td>{fieldNotes(spec, field).join('; ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        );
      })}

      <h3>Who uses it</h3>
      <dl className="spec-roles">
        {spec.roles.map((role) => (
          <div key={role.name}>
            <dt>{role.label}</dt>
            <dd>{role.description || 'No description.'}</dd>
          </div>
        ))}
      </dl>
      {defaults && (
        <p>
          The app&apos;s owner is {roleLabel(defaults.owner)}; anyone signed in is {roleLabel(defaults.signed_in)};{' '}
          {defaults.anonymous ? `visitors who are not signed in are ${roleLabel(defaults.anonymous)}.` : 'visitors must sign in first.'}
        </p>
      )}

      <h3 id="spec-permissions">Who may do what</h3>
      <PermissionTable
        spec={spec}
        label="Who may do what"
        cell={(role, entity) => {
          const words = OPERATIONS.filter((op) => allows(spec, role.name, entity.name, op));
          return words.length ? words.join(', ').replace(/^./, (c) => c.toUpperCase()) : 'Nothing';
        }}
      />
    </div>
  );
}
