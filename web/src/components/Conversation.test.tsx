import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Conversation } from './Conversation';
import { fakeServer } from '../test-support';
import type { Message, StoredEvent } from '../api/types';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const SESSION = 's1';

function message(id: number, role: string, content: string): Message {
  return { id, session_id: SESSION, role, author_id: null, agent_type: role === 'agent' ? 'ideation' : null, agent_version: null, content, created_at: '2026-11-27T00:00:00Z' };
}

function live() {
  const listeners = new Set<(e: StoredEvent) => void>();
  let next = 100;
  return {
    subscribe: (l: (e: StoredEvent) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    emit: (type: string, data: Record<string, unknown>) =>
      act(() => listeners.forEach((l) => l({ id: next++, type, idea_id: 'i1', data, at: '' }))),
  };
}

describe('Conversation', () => {
  it('shows the transcript, sends a message and renders the agent’s live work and reply once', async () => {
    let sent = 3;
    const server = fakeServer({
      'GET /api/sessions/s1': () => ({
        status: 200,
        body: { id: SESSION, messages: [message(1, 'user', 'A bike repair booking page'), message(2, 'agent', 'Who books?')], phase: 'ideation', credits_consumed: 2 },
      }),
      'POST /api/sessions/s1/message': (body) => ({ status: 201, body: message(sent++, 'user', (body as { content: string }).content) }),
    });
    const events = live();
    const onSession = vi.fn();
    render(<Conversation sessionId={SESSION} canWrite subscribe={events.subscribe} onSession={onSession} />);
    const log = screen.getByRole('log', { name: 'Messages' });
    expect(await within(log).findByText('Who books?')).toBeInTheDocument();
    expect(onSession).toHaveBeenCalledWith(expect.objectContaining({ credits_consumed: 2 }));

    await userEvent.type(screen.getByLabelText('Your message'), 'Cyclists, online{Enter}');
    expect(await within(log).findByText('Cyclists, online')).toBeInTheDocument();
    expect(server.calls.at(-1)).toMatchObject({ method: 'POST', body: { content: 'Cyclists, online' } });
    expect(screen.getByLabelText('Your message')).toHaveValue('');

    // The server also announces the person's own message: it is not shown twice.
    events.emit('agent:message', { session_id: SESSION, message: message(3, 'user', 'Cyclists, online') });
    expect(within(log).getAllByText('Cyclists, online')).toHaveLength(1);

    events.emit('agent:thinking', { session_id: SESSION, agent_type: 'ideation' });
    expect(screen.getByText('The ideation agent is thinking…')).toBeInTheDocument();
    events.emit('agent:tool_call', { session_id: SESSION, agent_type: 'ideation', name: 'pipeline.write' });
    expect(screen.getByText('The ideation agent is using pipeline.write…')).toBeInTheDocument();

    // Another session's events do not show here.
    events.emit('agent:message', { session_id: 'other', message: { ...message(50, 'agent', 'Elsewhere'), session_id: 'other' } });
    expect(within(log).queryByText('Elsewhere')).not.toBeInTheDocument();

    const reply = message(4, 'agent', 'Great: what should a booking hold?');
    events.emit('agent:message', { session_id: SESSION, message: reply });
    events.emit('agent:message', { session_id: SESSION, message: reply });
    expect(within(log).getAllByText('Great: what should a booking hold?')).toHaveLength(1);
    expect(screen.queryByText(/is thinking/)).not.toBeInTheDocument();
    expect(screen.queryByText(/is using/)).not.toBeInTheDocument();
    const said = within(log).getAllByRole('article').map((a) => a.textContent);
    expect(said).toEqual([
      'YouA bike repair booking page',
      'Ideation agentWho books?',
      'YouCyclists, online',
      'Ideation agentGreat: what should a booking hold?',
    ]);
  });

  it('keeps Shift+Enter as a new line and shows a refusal', async () => {
    fakeServer({
      'GET /api/sessions/s1': () => ({ status: 200, body: { id: SESSION, messages: [] } }),
      'POST /api/sessions/s1/message': () => ({ status: 409, body: { error: { code: 'conflict', message: 'this session has ended; start a new one' } } }),
    });
    render(<Conversation sessionId={SESSION} canWrite subscribe={live().subscribe} />);
    const input = screen.getByLabelText('Your message');
    await userEvent.type(input, 'line one{Shift>}{Enter}{/Shift}line two');
    expect(input).toHaveValue('line one\nline two');
    await userEvent.click(screen.getByRole('button', { name: 'Send' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('this session has ended');
    expect(input).toHaveValue('line one\nline two');
  });

  it('gives viewers no composer', async () => {
    fakeServer({ 'GET /api/sessions/s1': () => ({ status: 200, body: { id: SESSION, messages: [message(1, 'agent', 'Hello')] } }) });
    render(<Conversation sessionId={SESSION} canWrite={false} subscribe={live().subscribe} />);
    expect(await screen.findByText('Hello')).toBeInTheDocument();
    expect(screen.queryByLabelText('Your message')).not.toBeInTheDocument();
    expect(screen.getByText(/You are a viewer/)).toBeInTheDocument();
  });
});
