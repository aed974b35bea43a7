// The spec as a form, for owners and collaborators who do not write JSON: the app's texts, each
// entity's labels and fields (add, retype, remove), and who may do what. Controlled: the panel keeps
// the draft (so it survives a refused save and a trip to the JSON editor) and every change goes through
// a pure function of specEdit.ts.

import { useId, useState, type ReactNode } from 'react';
import { FIELD_TYPES, FIELD_TYPE_LABELS, OPERATIONS, type AppSpec, type FieldType, type SpecEntity, type SpecField } from '../api/spec';
import { Field, FormError } from './Field';
import { PermissionTable } from './PermissionTable';
import {
  addField,
  allows,
  isFieldType,
  removeField,
  setAppText,
  setChoices,
  setEntityText,
  setFieldLabel,
  setFieldRequired,
  setFieldType,
  setPermission,
  setReferenceTarget,
} from './specEdit';

type Change = (edit: (spec: AppSpec) => AppSpec) => void;

interface Props {
  spec: AppSpec;
  onChange: Change;
  error: string | null;
  saving: boolean;
  onSave: () => void;
  onJson: () => void;
  onCancel: () => void;
}

export function SpecForm({ spec, onChange, error, saving, onSave, onJson, onCancel }: Props) {
  return (
    <div className="spec-form">
      <fieldset>
        <legend>The app</legend>
        <Field label="App name" value={spec.app.name ?? ''} onChange={(e) => onChange((s) => setAppText(s, 'name', e.target.value))} />
        <TextArea label="Summary" hint="One or two sentences: what the app is for." value={spec.app.summary ?? ''}
          onChange={(value) => onChange((s) => setAppText(s, 'summary', value))} />
        <TextArea label="Description of the app" value={spec.app.description ?? ''}
          onChange={(value) => onChange((s) => setAppText(s, 'description', value))} />
      </fieldset>
      {spec.entities.map((entity) => (
        <EntityFieldset key={entity.name} spec={spec} entity={entity} onChange={onChange} />
      ))}
      <PermissionGrid spec={spec} onChange={onChange} />
      <FormError message={error} />
      <div className="actions">
        <button type="button" onClick={onSave} disabled={saving}>
          Save as a new version
        </button>
        <button type="button" className="secondary" onClick={onJson}>
          Edit as JSON
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function EntityFieldset({ spec, entity, onChange }: { spec: AppSpec; entity: SpecEntity; onChange: Change }) {
  const shown = entity.label || entity.name;
  const set = (key: 'label' | 'label_plural' | 'description' | 'display_field', value: string) =>
    onChange((s) => setEntityText(s, entity.name, key, value));
  const namers = entity.fields.filter((f) => f.type !== 'reference');
  return (
    <fieldset className="spec-entity">
      <legend>{shown}</legend>
      <Field label={`Label of ${shown}`} value={entity.label ?? ''} onChange={(e) => set('label', e.target.value)} />
      <Field label={`Plural label of ${shown}`} value={entity.label_plural ?? ''} onChange={(e) => set('label_plural', e.target.value)} />
      <TextArea label={`Description of ${shown}`} value={entity.description ?? ''} onChange={(value) => set('description', value)} />
      <Select label={`Field that names each ${shown}`} value={entity.display_field ?? ''} onChange={(value) => set('display_field', value)}>
        {!namers.some((f) => f.name === entity.display_field) && <option value={entity.display_field}>{entity.display_field}</option>}
        {namers.map((f) => (
          <option key={f.name} value={f.name}>
            {f.label || f.name}
          </option>
        ))}
      </Select>
      {/* Focusable so the table can be scrolled sideways from the keyboard on a narrow screen. */}
      <div className="table-scroll" tabIndex={0} role="region" aria-label={`Fields of ${shown}`}>
        <table className="spec-fields">
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Type</th>
              <th scope="col">Required</th>
              <th scope="col">
                <span className="visually-hidden">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {entity.fields.map((field) => (
              <FieldRow key={field.name} spec={spec} entity={entity} field={field} onChange={onChange} />
            ))}
          </tbody>
        </table>
      </div>
      <AddField spec={spec} entity={entity} onChange={onChange} />
    </fieldset>
  );
}

function FieldRow({ spec, entity, field, onChange }: { spec: AppSpec; entity: SpecEntity; field: SpecField; onChange: Change }) {
  const about = `field ${field.label || field.name} in ${entity.label || entity.name}`;
  return (
    <tr>
      <td>
        <input aria-label={`Label of ${about}`} value={field.label ?? ''}
          onChange={(e) => onChange((s) => setFieldLabel(s, entity.name, field.name, e.target.value))} />
      </td>
      <td>
        <select aria-label={`Type of ${about}`} value={field.type}
          onChange={(e) => onChange((s) => setFieldType(s, entity.name, field.name, e.target.value as FieldType))}>
          {!isFieldType(field.type) && <option value={field.type}>{field.type}</option>}
          {FIELD_TYPES.map((type) => (
            <option key={type} value={type}>
              {FIELD_TYPE_LABELS[type]}
            </option>
          ))}
        </select>
        {field.type === 'enum' && (
          <ChoicesInput label={`Choices of ${about}, one per line`} initial={(field.values ?? []).map((v) => v.label)}
            onChange={(lines) => onChange((s) => setChoices(s, entity.name, field.name, lines))} />
        )}
        {field.type === 'reference' && (
          <select aria-label={`What ${about} refers to`} value={field.entity ?? ''}
            onChange={(e) => onChange((s) => setReferenceTarget(s, entity.name, field.name, e.target.value))}>
            {spec.entities.map((e) => (
              <option key={e.name} value={e.name}>
                {e.label || e.name}
              </option>
            ))}
          </select>
        )}
      </td>
      <td>
        {field.type === 'boolean' ? (
          'Always set'
        ) : (
          <input type="checkbox" aria-label={`Required: ${about}`} checked={field.required === true}
            onChange={(e) => onChange((s) => setFieldRequired(s, entity.name, field.name, e.target.checked))} />
        )}
      </td>
      <td>
        <button type="button" className="danger" aria-label={`Remove ${about}`} disabled={entity.fields.length < 2}
          onClick={(e) => {
            // The row goes with its button: keep keyboard focus in the table rather than lose it to the page.
            e.currentTarget.closest<HTMLElement>('.table-scroll')?.focus();
            onChange((s) => removeField(s, entity.name, field.name));
          }}>
          Remove
        </button>
      </td>
    </tr>
  );
}

function AddField({ spec, entity, onChange }: { spec: AppSpec; entity: SpecEntity; onChange: Change }) {
  const shown = entity.label || entity.name;
  const [label, setLabel] = useState('');
  const [type, setType] = useState<FieldType>('string');
  const [choices, setChoicesText] = useState('');
  const [target, setTarget] = useState(spec.entities.find((e) => e.name !== entity.name)?.name ?? entity.name);
  const [required, setRequired] = useState(false);
  const [problem, setProblem] = useState<string | undefined>();
  const [added, setAdded] = useState<string | null>(null);

  function add() {
    const lines = choices.split('\n').filter((line) => line.trim());
    if (!label.trim()) return setProblem('Give the new field a label.');
    if (type === 'enum' && lines.length === 0) return setProblem('Write the choices, one per line.');
    const field = { label, type, required, choices: lines, target };
    onChange((s) => addField(s, entity.name, field).spec);
    setAdded(`${label.trim()} is added to ${shown}.`);
    setProblem(undefined);
    setLabel('');
    setChoicesText('');
    setRequired(false);
  }

  return (
    <fieldset className="spec-add-field">
      <legend>Add a field to {shown}</legend>
      <Field label={`Label of the new field in ${shown}`} value={label} error={problem} onChange={(e) => setLabel(e.target.value)} />
      <Select label={`Type of the new field in ${shown}`} value={type} onChange={(value) => setType(value as FieldType)}>
        {FIELD_TYPES.map((t) => (
          <option key={t} value={t}>
            {FIELD_TYPE_LABELS[t]}
          </option>
        ))}
      </Select>
      {type === 'enum' && (
        <TextArea label={`Choices of the new field in ${shown}, one per line`} value={choices} onChange={setChoicesText} />
      )}
      {type === 'reference' && (
        <Select label={`What the new field in ${shown} refers to`} value={target} onChange={setTarget}>
          {spec.entities.map((e) => (
            <option key={e.name} value={e.name}>
              {e.label || e.name}
            </option>
          ))}
        </Select>
      )}
      {type !== 'boolean' && (
        <div className="check">
          <input id={`new-required-${entity.name}`} type="checkbox" checked={required} onChange={(e) => setRequired(e.target.checked)} />
          <label htmlFor={`new-required-${entity.name}`}>The new field in {shown} is required</label>
        </div>
      )}
      <button type="button" className="secondary" onClick={add}>
        Add a field
      </button>
      <p role="status" className="hint">
        {added}
      </p>
    </fieldset>
  );
}

function PermissionGrid({ spec, onChange }: { spec: AppSpec; onChange: Change }) {
  return (
    <fieldset>
      <legend>Who may do what</legend>
      <p className="hint">Taking a permission away also takes that role off the pages and buttons that need it.</p>
      <PermissionTable
        spec={spec}
        label="Permissions"
        cell={(role, entity) =>
          OPERATIONS.map((op) => (
            <label key={op} className="check">
              <input type="checkbox" aria-label={`${role.label || role.name} may ${op} ${entity.label_plural || entity.name}`}
                checked={allows(spec, role.name, entity.name, op)}
                onChange={(e) => onChange((s) => setPermission(s, role.name, entity.name, op, e.target.checked))} />{' '}
              {op[0].toUpperCase() + op.slice(1)}
            </label>
          ))
        }
      />
    </fieldset>
  );
}

function TextArea({ label, hint, value, onChange }: { label: string; hint?: string; value: string; onChange: (value: string) => void }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      )}
      <textarea id={id} rows={3} value={value} aria-describedby={hint ? `${id}-hint` : undefined} onChange={(e) => onChange(e.target.value)} />
    </div>
  );
}

function Select({ label, value, onChange, children }: { label: string; value: string; onChange: (value: string) => void; children: ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {children}
      </select>
    </div>
  );
}

/** An enum's choices, one per line; keeps its own text so blank lines can be typed. */
function ChoicesInput({ label, initial, onChange }: { label: string; initial: string[]; onChange: (lines: string[]) => void }) {
  const [text, setText] = useState(initial.join('\n'));
  return (
    <textarea aria-label={label} rows={Math.max(2, initial.length)} value={text}
      onChange={(e) => {
        setText(e.target.value);
        onChange(e.target.value.split('\n'));
      }} />
  );
}
