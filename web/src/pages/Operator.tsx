// The operator console: plugins and their versions (publish a signed package, approve what waits), per
// agent type the routing weights beside each version's track record, and accounts (credits, grants).

import { useEffect, useState, type FormEvent } from 'react';
import { api, errorMessage } from '../api/client';
import type { AgentTypeSummary, AgentTypeView, Plugin, PluginVersion } from '../api/types';
import { useAuth } from '../auth';
import { FormError } from '../components/Field';
import { OperatorAccounts } from '../components/OperatorAccounts';
import { PublishPlugin } from '../components/PublishPlugin';

export function OperatorPage() {
  const { user } = useAuth();
  if (user?.role !== 'operator')
    return (
      <section className="page narrow">
        <h1>Operator console</h1>
        <p>Only operators can open the console.</p>
      </section>
    );
  return (
    <section className="page">
      <h1>Operator console</h1>
      <Plugins />
      <Routing />
      <OperatorAccounts />
    </section>
  );
}

function Plugins() {
  const [plugins, setPlugins] = useState<Plugin[] | null>(null);
  const [versions, setVersions] = useState<Record<string, PluginVersion[]>>({});
  const [error, setError] = useState<string | null>(null);

  function load() {
    api.plugins().then(setPlugins, (f: unknown) => setError(errorMessage(f, 'Could not load the plugins.')));
  }

  useEffect(load, []);

  async function show(name: string) {
    try {
      const list = await api.pluginVersions(name);
      setVersions((all) => ({ ...all, [name]: list }));
    } catch (f) {
      setError(errorMessage(f, 'Could not load the versions.'));
    }
  }

  async function approve(name: string, version: string) {
    try {
      await api.approve(name, version);
      await show(name);
    } catch (f) {
      setError(errorMessage(f, 'Could not approve it.'));
    }
  }

  return (
    <section aria-labelledby="plugins-title">
      <h2 id="plugins-title">Plugins</h2>
      <FormError message={error} />
      {plugins === null ? (
        <p role="status">Loading…</p>
      ) : plugins.length === 0 ? (
        <p>
          No plugin is published yet.
        </p>
      ) : (
        <ul className="plugins">
          {plugins.map((p) => (
            <li key={p.name}>
              <strong>{p.name}</strong> by {p.publisher}, latest {p.latest_version} ({p.versions} versions){' '}
              <button type="button" className="secondary" onClick={() => void show(p.name)}>
                Versions of {p.name}
              </button>
              {versions[p.name] && (
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Version</th>
                      <th scope="col">Agent types</th>
                      <th scope="col">Approval</th>
                      <th scope="col">Needs</th>
                    </tr>
                  </thead>
                  <tbody>
                    {versions[p.name].map((v) => (
                      <tr key={v.version}>
                        <td>{v.version}</td>
                        <td>{v.agent_types.join(', ')}</td>
                        <td>
                          {v.deprecated ? 'deprecated' : v.approval}
                          {v.approval === 'pending' && (
                            <button type="button" onClick={() => void approve(p.name, v.version)}>
                              Approve {v.version_ref}
                            </button>
                          )}
                        </td>
                        <td>{v.approval_reasons.join('; ') || '—'}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </li>
          ))}
        </ul>
      )}
      <PublishPlugin
        onPublished={(version) => {
          load();
          void show(version.plugin);
        }}
      />
    </section>
  );
}

function Routing() {
  const [types, setTypes] = useState<AgentTypeSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.agentTypes().then(setTypes, (f: unknown) => setError(errorMessage(f, 'Could not load the agent types.')));
  }, []);
  return (
    <section aria-labelledby="routing-title">
      <h2 id="routing-title">Routing</h2>
      <FormError message={error} />
      {types === null ? (
        <p role="status">Loading…</p>
      ) : types.length === 0 ? (
        <p>No agent type has versions to route yet.</p>
      ) : (
        types.map((t) => <AgentRouting key={t.agent_type} type={t.agent_type} />)
      )}
    </section>
  );
}

function AgentRouting({ type }: { type: string }) {
  const [view, setView] = useState<AgentTypeView | null>(null);
  const [weights, setWeights] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  async function load() {
    try {
      const loaded = await api.agentType(type);
      setView(loaded);
      setWeights(Object.fromEntries(loaded.versions.map((v) => [v.version, String(v.weight)])));
    } catch (f) {
      setError(errorMessage(f, 'Could not load the routing.'));
    }
  }

  useEffect(() => {
    void load();
  }, [type]);

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(null);
    const numbers = Object.fromEntries(Object.entries(weights).map(([v, w]) => [v, Number(w) || 0]));
    try {
      await api.setRouting(type, numbers, view?.routing.revision ?? undefined);
      setNotice('Routing saved.');
      await load();
    } catch (f) {
      setError(errorMessage(f, 'Could not save the routing.'));
    }
  }

  async function rollback() {
    try {
      await api.rollbackRouting(type);
      setNotice('Routing rolled back.');
      await load();
    } catch (f) {
      setError(errorMessage(f, 'Could not roll back.'));
    }
  }

  if (!view) return <p role="status">Loading {type}…</p>;
  return (
    <form className="panel" onSubmit={save} aria-labelledby={`routing-${type}`}>
      <h3 id={`routing-${type}`}>
        {type} <span className="hint">(revision {view.routing.revision ?? 'none'})</span>
      </h3>
      <FormError message={error} />
      {notice && <p role="status">{notice}</p>}
      <div className="table-scroll" tabIndex={0} role="region" aria-label={`Versions of ${type}`}>
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Weight</th>
              <th scope="col">Calls</th>
              <th scope="col">Error rate</th>
              <th scope="col">p50 / p99</th>
              <th scope="col">Credits</th>
            </tr>
          </thead>
          <tbody>
            {view.versions.map((v) => (
              <tr key={v.version}>
                <th scope="row">
                  {v.version} <span className="hint">{v.approval}</span>
                </th>
                <td>
                  <label className="visually-hidden" htmlFor={`w-${type}-${v.version}`}>
                    Weight of {v.version}
                  </label>
                  <input
                    id={`w-${type}-${v.version}`}
                    type="number"
                    min={0}
                    inputMode="numeric"
                    value={weights[v.version] ?? '0'}
                    onChange={(e) => setWeights((all) => ({ ...all, [v.version]: e.target.value }))}
                  />
                </td>
                <td>{v.track?.calls ?? 0}</td>
                <td>{v.track ? `${(v.track.error_rate * 100).toFixed(1)}%` : '—'}</td>
                <td>
                  {v.track?.latency_p50_us != null ? `${(v.track.latency_p50_us / 1000).toFixed(1)} ms` : '—'} /{' '}
                  {v.track?.latency_p99_us != null ? `${(v.track.latency_p99_us / 1000).toFixed(1)} ms` : '—'}
                </td>
                <td>{v.track?.credits_total ?? 0}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="actions">
        <button type="submit">Save weights for {type}</button>
        {view.routing.rolls_back_to != null && (
          <button type="button" className="secondary" onClick={() => void rollback()}>
            Roll back to revision {view.routing.rolls_back_to}
          </button>
        )}
      </div>
    </form>
  );
}
