import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { PublishPlugin } from './PublishPlugin';
import { fakeServer } from '../test-support';
import type { PluginVersion } from '../api/types';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const signed = { manifest: { name: 'echo', version: '0.2.0' }, component: 'AGFzbQ==', digest: 'ab'.repeat(32), signature: 'c2ln' };

function version(overrides: Partial<PluginVersion> = {}): PluginVersion {
  return {
    plugin: 'echo', version: '0.2.0', version_ref: 'echo@0.2.0', digest: signed.digest, agent_types: ['support'],
    capabilities: [], description: '', publisher: 'ada@example.com', approval: 'approved', approval_reasons: [],
    deprecated: false, published_at: '2026-11-27T08:00:00Z', ...overrides,
  };
}

const pick = (text: string, name = 'echo.pkg') =>
  userEvent.upload(screen.getByLabelText('Signed package'), new File([text], name, { type: 'application/json' }));

describe('PublishPlugin', () => {
  it('sends the package as it is and says what waits for approval', async () => {
    const server = fakeServer({
      'POST /api/plugins': () => ({ status: 201, body: version({ approval: 'pending', approval_reasons: ['capability llm', 'memory above the default'] }) }),
    });
    const published = vi.fn();
    render(<PublishPlugin onPublished={published} />);
    await pick(JSON.stringify(signed));
    await userEvent.click(screen.getByRole('button', { name: 'Publish' }));
    expect(await screen.findByRole('status')).toHaveTextContent(
      "Published echo@0.2.0. It waits for an operator's approval of: capability llm; memory above the default.",
    );
    expect(server.calls).toEqual([{ method: 'POST', path: '/api/plugins', body: signed }]);
    expect(published).toHaveBeenCalledWith(expect.objectContaining({ version_ref: 'echo@0.2.0' }));
  });

  it('shows the server’s refusal, and refuses a file that is not JSON without sending it', async () => {
    const server = fakeServer({
      'POST /api/plugins': () => ({ status: 422, body: { error: { code: 'validation_failed', message: 'signature: does not match the package' } } }),
    });
    render(<PublishPlugin />);
    await userEvent.click(screen.getByRole('button', { name: 'Publish' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Choose the signed package to publish.');
    await pick('\u0000asm not json', 'echo.wasm');
    await userEvent.click(screen.getByRole('button', { name: 'Publish' }));
    expect(screen.getByRole('alert')).toHaveTextContent('echo.wasm is not a signed package');
    expect(server.calls).toHaveLength(0);
    await pick(JSON.stringify(signed));
    await userEvent.click(screen.getByRole('button', { name: 'Publish' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('signature: does not match the package');
    expect(screen.queryByRole('status')).not.toBeInTheDocument();
  });
});
