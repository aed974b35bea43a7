// The spec's permissions as a grid: a row per role, a column per entity, and in each cell what the
// caller puts there (the permissions in words in the readable view, checkboxes in the form).

import type { ReactNode } from 'react';
import type { AppSpec, SpecEntity, SpecRole } from '../api/spec';

interface Props {
  spec: AppSpec;
  /** The grid's name (it scrolls sideways on a phone, so it is a named, focusable region). */
  label: string;
  cell: (role: SpecRole, entity: SpecEntity) => ReactNode;
}

export function PermissionTable({ spec, label, cell }: Props) {
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={label}>
      <table className="spec-grid">
        <thead>
          <tr>
            <th scope="col">Role</th>
            {spec.entities.map((entity) => (
              <th scope="col" key={entity.name}>
                {entity.label_plural || entity.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {spec.roles.map((role) => (
            <tr key={role.name}>
              <th scope="row">{role.label || role.name}</th>
              {spec.entities.map((entity) => (
                <td key={entity.name}>{cell(role, entity)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
