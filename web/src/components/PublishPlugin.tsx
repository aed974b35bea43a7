// Publishing a plugin from the browser: the person picks the signed package `vibe plugin sign` wrote
// (signing stays on their machine, with their key) and it is sent to `POST /api/plugins` as it is. The
// server's verdict is shown: published and routable, published and waiting for approval, or refused
// with the reason.

import { useState, type FormEvent } from 'react';
import { api, errorMessage } from '../api/client';
import type { PluginVersion } from '../api/types';
import { FormError } from './Field';

interface Props {
  /** Told each version published, e.g. to reload the list of plugins. */
  onPublished?: (version: PluginVersion) => void;
}

/** What the person is told once a version is published. */
export function publishedNotice(version: PluginVersion): string {
  const published = `Published ${version.version_ref}.`;
  if (version.approval === 'approved') return `${published} It may be routed now.`;
  return `${published} It waits for an operator's approval of: ${version.approval_reasons.join('; ')}.`;
}

export function PublishPlugin({ onPublished }: Props) {
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  async function publish(event: FormEvent) {
    event.preventDefault();
    setError(null);
    setNotice(null);
    if (!file) {
      setError('Choose the signed package to publish.');
      return;
    }
    let signed: unknown;
    try {
      signed = JSON.parse(await file.text());
    } catch {
      setError(`${file.name} is not a signed package: it is not JSON. Make one with vibe plugin sign.`);
      return;
    }
    setBusy(true);
    try {
      const version = await api.publishPlugin(signed);
      setNotice(publishedNotice(version));
      onPublished?.(version);
    } catch (failure) {
      setError(errorMessage(failure, 'Could not publish the plugin.'));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="publish-plugin" onSubmit={(e) => void publish(e)} aria-labelledby="publish-title">
      <h3 id="publish-title">Publish a plugin</h3>
      <p className="hint" id="publish-hint">
        Sign it on your machine with <code>vibe plugin sign plugin.wasm --manifest manifest.json --out plugin.pkg</code>,
        then choose that file here.
      </p>
      <FormError message={error} />
      {notice && <p role="status">{notice}</p>}
      <label htmlFor="publish-file">Signed package</label>
      <input
        id="publish-file"
        type="file"
        accept=".pkg,.json,application/json"
        aria-describedby="publish-hint"
        onChange={(e) => setFile(e.target.files?.[0] ?? null)}
      />
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Publishing…' : 'Publish'}
        </button>
      </div>
    </form>
  );
}
