import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { SpecPanel } from './SpecPanel';
import { fakeServer } from '../test-support';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const subscribe = () => () => undefined;
const spec = { name: 'Bike bookings', entities: [{ name: 'booking' }] };

describe('SpecPanel', () => {
  it('lets the owner edit (a new version) and confirm', async () => {
    let version = 1;
    let confirmed = false;
    const server = fakeServer({
      'GET /api/ideas/i1/spec': () => ({ status: 200, body: { idea_id: 'i1', version, spec, confirmed } }),
      'PUT /api/ideas/i1/spec': (body) => {
        version += 1;
        return { status: 200, body: { idea_id: 'i1', version, spec: (body as { spec: unknown }).spec, confirmed: false } };
      },
      'POST /api/ideas/i1/spec/confirm': () => {
        confirmed = true;
        return { status: 200, body: { idea_id: 'i1', version, spec, confirmed } };
      },
    });
    render(<SpecPanel ideaId="i1" role="owner" subscribe={subscribe} />);
    expect(await screen.findByText('Version 1, not confirmed yet.')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Edit' }));
    const editor = screen.getByLabelText('Spec (JSON)');
    fireEvent.change(editor, { target: { value: '{"name": "Bike bookings v2"' } });
    await userEvent.click(screen.getByRole('button', { name: 'Save as a new version' }));
    expect(screen.getByRole('alert')).toHaveTextContent('not valid JSON');
    expect(server.calls.some((c) => c.method === 'PUT')).toBe(false);
    fireEvent.change(editor, { target: { value: '{"name": "Bike bookings v2"}' } });
    await userEvent.click(screen.getByRole('button', { name: 'Save as a new version' }));
    expect(await screen.findByText('Saved as version 2.')).toBeInTheDocument();
    expect(server.calls.find((c) => c.method === 'PUT')?.body).toEqual({ spec: { name: 'Bike bookings v2' }, expected_version: 1 });
    await userEvent.click(screen.getByRole('button', { name: 'Confirm this spec' }));
    expect(await screen.findByText('Version 2 confirmed.')).toBeInTheDocument();
    expect(server.calls.find((c) => c.path.endsWith('/confirm'))?.body).toEqual({ version: 2 });
  });

  it('shows viewers the spec without edit or confirm', async () => {
    fakeServer({ 'GET /api/ideas/i1/spec': () => ({ status: 200, body: { idea_id: 'i1', version: 3, spec, confirmed: false } }) });
    render(<SpecPanel ideaId="i1" role="viewer" subscribe={subscribe} />);
    expect(await screen.findByText(/"Bike bookings"/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Edit' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Confirm this spec' })).not.toBeInTheDocument();
  });

  it('lets collaborators edit but not confirm', async () => {
    fakeServer({ 'GET /api/ideas/i1/spec': () => ({ status: 200, body: { idea_id: 'i1', version: 1, spec, confirmed: false } }) });
    render(<SpecPanel ideaId="i1" role="collaborator" subscribe={subscribe} />);
    expect(await screen.findByRole('button', { name: 'Edit' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Confirm this spec' })).not.toBeInTheDocument();
  });

  it('says when there is no spec yet', async () => {
    fakeServer({ 'GET /api/ideas/i1/spec': () => ({ status: 404, body: { error: { code: 'not_found', message: 'no spec' } } }) });
    render(<SpecPanel ideaId="i1" role="owner" subscribe={subscribe} />);
    expect(await screen.findByText(/No spec yet/)).toBeInTheDocument();
  });
});
