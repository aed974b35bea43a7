import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import { SpecPanel } from './SpecPanel';
import { exampleSpec, fakeServer } from '../test-support';
import type { AppSpec } from '../api/spec';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const subscribe = () => () => undefined;
// No pause between keystrokes.
const user = userEvent.setup({ delay: null });

/** A server holding `spec` at version 1 that saves what it is sent (unless `refuse` answers instead). */
function serve(spec: unknown, refuse?: () => { status: number; body: unknown } | undefined) {
  let version = 1;
  let confirmed = false;
  let current = spec;
  return fakeServer({
    'GET /api/ideas/i1/spec': () => ({ status: 200, body: { idea_id: 'i1', version, spec: current, confirmed } }),
    'PUT /api/ideas/i1/spec': (body) => {
      const refused = refuse?.();
      if (refused) return refused;
      version += 1;
      confirmed = false;
      current = (body as { spec: unknown }).spec;
      return { status: 200, body: { idea_id: 'i1', version, spec: current, confirmed } };
    },
    'POST /api/ideas/i1/spec/confirm': () => {
      confirmed = true;
      return { status: 200, body: { idea_id: 'i1', version, spec: current, confirmed } };
    },
  });
}

const saved = (server: ReturnType<typeof fakeServer>) => server.calls.filter((c) => c.method === 'PUT').map((c) => c.body);
const book = (spec: AppSpec) => spec.entities.find((e) => e.name === 'book')!;

async function openForm() {
  await user.click(await screen.findByRole('button', { name: 'Edit' }));
}

// The form is long and every keystroke re-renders it: generous time on a busy machine.
describe('SpecPanel', { timeout: 20_000 }, () => {
  it('shows the spec readably: the app, each entity with its fields, the roles and who may do what', async () => {
    serve(exampleSpec());
    render(<SpecPanel ideaId="i1" role="viewer" subscribe={subscribe} />);
    expect(await screen.findByRole('heading', { name: 'Book Club' })).toBeInTheDocument();
    expect(screen.getByText('Track the books our club reads, our meetings, and who brings snacks to each one.')).toBeInTheDocument();

    const books = within(screen.getByRole('region', { name: 'Fields of Book' }));
    const title = books.getByRole('rowheader', { name: 'Title' }).closest('tr')!;
    expect([...title.cells].map((cell) => cell.textContent)).toEqual(['Title', 'title', 'Short text', 'Yes', 'at most 200 characters']);
    const status = books.getByRole('rowheader', { name: 'Status' }).closest('tr')!;
    expect(status.cells[4].textContent).toBe('choices: Suggested, Reading now, Finished; Suggested unless given');
    const meeting = within(screen.getByRole('region', { name: 'Fields of Meeting' })).getByRole('rowheader', { name: 'Book' }).closest('tr')!;
    expect([...meeting.cells].slice(2).map((cell) => cell.textContent)).toEqual(['Link to a record', 'Yes', 'refers to a Book']);
    expect(screen.getByText('Each Meeting is named by its Starts at.')).toBeInTheDocument();

    expect(screen.getByText('Suggests books and signs up for snacks.')).toBeInTheDocument();
    const grid = within(screen.getByRole('region', { name: 'Who may do what' }));
    const member = grid.getByRole('rowheader', { name: 'Member' }).closest('tr')!;
    expect([...member.cells].map((cell) => cell.textContent)).toEqual(['Member', 'Read, create', 'Read', 'Read, create, update']);
    const visitor = grid.getByRole('rowheader', { name: 'Visitor' }).closest('tr')!;
    expect([...visitor.cells].map((cell) => cell.textContent)).toEqual(['Visitor', 'Read', 'Nothing', 'Nothing']);

    // The JSON is still there, folded away.
    expect(screen.getByLabelText('The spec as JSON')).toHaveTextContent('"slug": "book-club"');
    expect(screen.getByText('The spec as JSON').closest('details')).not.toHaveAttribute('open');
  });

  it('gives viewers no way to edit or confirm', async () => {
    serve(exampleSpec());
    render(<SpecPanel ideaId="i1" role="viewer" subscribe={subscribe} />);
    expect(await screen.findByText('Version 1, not confirmed yet.')).toBeInTheDocument();
    expect(screen.queryByRole('button')).not.toBeInTheDocument();
    expect(screen.queryByRole('textbox')).not.toBeInTheDocument();
    expect(screen.queryByRole('checkbox')).not.toBeInTheDocument();
  });

  it('saves a relabelled field and an added one as a new version, keeping everything else', async () => {
    const server = serve(exampleSpec());
    render(<SpecPanel ideaId="i1" role="collaborator" subscribe={subscribe} />);
    await openForm();
    const label = screen.getByLabelText('Label of field Title in Book');
    await user.clear(label);
    await user.type(label, 'Book title');

    const adding = within(screen.getByRole('group', { name: 'Add a field to Book' }));
    await user.type(adding.getByLabelText('Label of the new field in Book'), 'Genre');
    await user.selectOptions(adding.getByLabelText('Type of the new field in Book'), 'One of a list');
    await user.type(adding.getByLabelText('Choices of the new field in Book, one per line'), 'Novel{Enter}Poetry{Enter}');
    await user.click(adding.getByRole('button', { name: 'Add a field' }));
    expect(adding.getByRole('status')).toHaveTextContent('Genre is added to Book.');
    expect(screen.getByLabelText('Label of field Genre in Book')).toHaveValue('Genre');
    await user.click(screen.getByRole('button', { name: 'Save as a new version' }));

    expect(await screen.findByText('Saved as version 2.')).toBeInTheDocument();
    const expected = exampleSpec();
    book(expected).fields[0].label = 'Book title';
    book(expected).fields.push({
      name: 'genre', label: 'Genre', type: 'enum',
      values: [{ value: 'novel', label: 'Novel' }, { value: 'poetry', label: 'Poetry' }],
    });
    expect(saved(server)).toEqual([{ spec: expected, expected_version: 1 }]);
    // Back to reading, the new version shown.
    expect(screen.getByText('Version 2, not confirmed yet.')).toBeInTheDocument();
    expect(within(screen.getByRole('region', { name: 'Fields of Book' })).getByRole('rowheader', { name: 'Genre' })).toBeInTheDocument();
  });

  it('moves the display field off a removed field and saves permission changes', async () => {
    const server = serve(exampleSpec());
    render(<SpecPanel ideaId="i1" role="owner" subscribe={subscribe} />);
    await openForm();
    expect(screen.getByLabelText('Field that names each Book')).toHaveValue('title');
    await user.click(screen.getByRole('button', { name: 'Remove field Title in Book' }));
    expect(screen.queryByLabelText('Label of field Title in Book')).not.toBeInTheDocument();
    expect(screen.getByRole('region', { name: 'Fields of Book' })).toHaveFocus();
    expect(screen.getByLabelText('Field that names each Book')).toHaveValue('author');

    const create = screen.getByRole('checkbox', { name: 'Member may create Books' });
    expect(create).toBeChecked();
    await user.click(create);
    await user.click(screen.getByRole('checkbox', { name: 'Visitor may read Meetings' }));
    await user.click(screen.getByRole('button', { name: 'Save as a new version' }));
    await screen.findByText('Saved as version 2.');

    const sent = (saved(server)[0] as { spec: AppSpec }).spec;
    expect(book(sent).display_field).toBe('author');
    expect(book(sent).fields.map((f) => f.name)).toEqual(['author', 'status', 'pages', 'link', 'notes']);
    expect(sent.sample_data!.filter((r) => 'title' in r.values)).toEqual([]);
    expect(sent.permissions.filter((p) => p.role !== 'organizer')).toEqual([
      { role: 'member', entity: 'book', allow: ['read'] },
      { role: 'member', entity: 'meeting', allow: ['read'] },
      { role: 'member', entity: 'snack_assignment', allow: ['read', 'create', 'update'] },
      { role: 'visitor', entity: 'book', allow: ['read'] },
      { role: 'visitor', entity: 'meeting', allow: ['read'] },
    ]);
    expect(sent.pages!.find((p) => p.kind === 'create' && p.entity === 'book')!.visible_to).toEqual(['organizer']);
  });

  it('shows why the server refused a save and keeps the edits', async () => {
    let refuse = true;
    const server = serve(exampleSpec(), () =>
      refuse ? { status: 422, body: { error: { code: 'invalid_spec', message: '/entities/0/label: must not be empty' } } } : undefined,
    );
    render(<SpecPanel ideaId="i1" role="owner" subscribe={subscribe} />);
    await openForm();
    const name = screen.getByLabelText('App name');
    await user.clear(name);
    await user.type(name, 'Readers');
    await user.clear(screen.getByLabelText('Label of Book'));
    await user.click(screen.getByRole('button', { name: 'Save as a new version' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('/entities/0/label: must not be empty');
    expect(screen.getByLabelText('App name')).toHaveValue('Readers');
    expect(screen.getByText('Version 1, not confirmed yet.')).toBeInTheDocument();

    refuse = false;
    await user.type(screen.getByLabelText('Label of book'), 'Volume');
    await user.click(screen.getByRole('button', { name: 'Save as a new version' }));
    await screen.findByText('Saved as version 2.');
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    const [first, second] = saved(server) as { spec: AppSpec; expected_version: number }[];
    expect([first.spec.app.name, book(first.spec).label, first.expected_version]).toEqual(['Readers', '', 1]);
    expect([second.spec.app.name, book(second.spec).label, second.expected_version]).toEqual(['Readers', 'Volume', 1]);
  });

  it('edits as JSON too, refusing what is not JSON, then lets the owner confirm once', async () => {
    const server = serve(exampleSpec());
    render(<SpecPanel ideaId="i1" role="owner" subscribe={subscribe} />);
    await openForm();
    await user.type(screen.getByLabelText('App name'), ' 2');
    await user.click(screen.getByRole('button', { name: 'Edit as JSON' }));
    const editor = screen.getByLabelText('Spec (JSON)');
    // What the form changed carries over to the JSON.
    expect(JSON.parse((editor as HTMLTextAreaElement).value).app.name).toBe('Book Club 2');
    fireEvent.change(editor, { target: { value: '{"name": "Bike bookings v2"' } });
    await user.click(screen.getByRole('button', { name: 'Save as a new version' }));
    expect(screen.getByRole('alert')).toHaveTextContent('not valid JSON');
    expect(saved(server)).toEqual([]);
    fireEvent.change(editor, { target: { value: '{"name": "Bike bookings v2"}' } });
    await user.click(screen.getByRole('button', { name: 'Save as a new version' }));
    expect(await screen.findByText('Saved as version 2.')).toBeInTheDocument();
    expect(saved(server)).toEqual([{ spec: { name: 'Bike bookings v2' }, expected_version: 1 }]);
    // A spec the form cannot show is still shown, as JSON.
    expect(screen.getByText(/not in the usual shape/)).toBeInTheDocument();
    expect(screen.getByLabelText('The spec as JSON')).toHaveTextContent('"Bike bookings v2"');

    await user.click(screen.getByRole('button', { name: 'Confirm this spec' }));
    expect(await screen.findByText('Version 2 confirmed.')).toBeInTheDocument();
    expect(screen.getAllByText(/^Version \d+ confirmed\.$/)).toHaveLength(1);
    expect(screen.queryByText(/not confirmed yet/)).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Confirm this spec' })).not.toBeInTheDocument();
    expect(server.calls.find((c) => c.path.endsWith('/confirm'))?.body).toEqual({ version: 2 });
  });

  it('opens a spec the form cannot show straight in the JSON editor', async () => {
    serve({ name: 'Bike bookings' });
    render(<SpecPanel ideaId="i1" role="owner" subscribe={subscribe} />);
    await openForm();
    expect(screen.getByLabelText('Spec (JSON)')).toHaveValue('{\n  "name": "Bike bookings"\n}');
    await user.click(screen.getByRole('button', { name: 'Edit as a form' }));
    expect(screen.getByRole('alert')).toHaveTextContent('The form cannot show this JSON');
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(screen.getByRole('button', { name: 'Edit' })).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('has no WCAG 2.1 A/AA violations axe can find without a layout, reading or editing', async () => {
    serve(exampleSpec());
    render(<SpecPanel ideaId="i1" role="owner" subscribe={subscribe} />);
    await screen.findByRole('button', { name: 'Edit' });
    // jsdom draws nothing, so colour contrast is left to the e2e run in a real browser.
    const options = { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'], rules: { 'color-contrast': { enabled: false } } };
    const violations = async () => (await axe.run(document.body, options)).violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(' ')}`);
    expect(await violations()).toEqual([]);
    await openForm();
    await user.selectOptions(screen.getByLabelText('Type of the new field in Book'), 'One of a list');
    await user.selectOptions(screen.getByLabelText('Type of the new field in Meeting'), 'Link to a record');
    expect(await violations()).toEqual([]);
  });

  it('lets collaborators edit but not confirm', async () => {
    serve(exampleSpec());
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
