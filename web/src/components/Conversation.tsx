// The conversation with the agents: the transcript, live replies, what the agent is doing, a composer.

import { useCallback, useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { ApiError, api } from '../api/client';
import type { SessionWithTranscript, StoredEvent } from '../api/types';
import { FormError } from './Field';
import { empty, withEvent, withMessages, type ConversationState } from './conversationState';

interface Props {
  sessionId: string;
  canWrite: boolean;
  /** Subscribes to live events; returns the unsubscribe. */
  subscribe: (listener: (event: StoredEvent) => void) => () => void;
  /** Reports the transcript's extras (phase, cost) when it loads. */
  onSession?: (session: SessionWithTranscript) => void;
}

export function Conversation({ sessionId, canWrite, subscribe, onSession }: Props) {
  const [state, setState] = useState<ConversationState>(empty);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const end = useRef<HTMLDivElement>(null);
  const reported = useRef(onSession);
  reported.current = onSession;

  const load = useCallback(async () => {
    try {
      const session = await api.session(sessionId);
      setState((s) => withMessages(s, session.messages));
      reported.current?.(session);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not load the conversation.');
    }
  }, [sessionId]);

  useEffect(() => {
    setState(empty);
    void load();
  }, [load]);

  useEffect(() => subscribe((event) => setState((s) => withEvent(s, sessionId, event))), [subscribe, sessionId]);

  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'end' });
  }, [state.messages.length, state.thinking]);

  async function send(event?: FormEvent) {
    event?.preventDefault();
    const content = draft.trim();
    if (!content || sending) return;
    setSending(true);
    setError(null);
    try {
      const message = await api.sendMessage(sessionId, content);
      setState((s) => withMessages(s, [message]));
      setDraft('');
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.message : 'Could not send the message.');
    } finally {
      setSending(false);
    }
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    // Enter sends, Shift+Enter makes a new line.
    if (event.key === 'Enter' && !event.shiftKey) {
      event.preventDefault();
      void send();
    }
  }

  return (
    <section className="conversation" aria-labelledby="conversation-title">
      <h2 id="conversation-title">Conversation</h2>
      {/* Focusable: a long conversation scrolls, and the keyboard must be able to scroll it. */}
      <div className="transcript" role="log" aria-live="polite" aria-label="Messages" tabIndex={0}>
        {state.messages.length === 0 && <p className="hint">Describe your idea: who is it for, and what should it do?</p>}
        {state.messages.map((message) => (
          <article key={message.id} className={`message message-${message.role}`} aria-label={`${speaker(message.role, message.agent_type)} said`}>
            <p className="speaker">{speaker(message.role, message.agent_type)}</p>
            <p className="content">{message.content}</p>
          </article>
        ))}
        {state.toolCalls.map((call) => (
          <p key={call.eventId} className="tool-call">
            The {call.agentType} agent is using {call.name}…
          </p>
        ))}
        {state.thinking && (
          <p className="thinking" role="status">
            The {state.thinking} agent is thinking…
          </p>
        )}
        <div ref={end} />
      </div>
      {canWrite ? (
        <form className="composer" onSubmit={send}>
          <FormError message={error} />
          <label htmlFor="composer-input">Your message</label>
          <textarea
            id="composer-input"
            rows={3}
            value={draft}
            maxLength={32 * 1024}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={onKeyDown}
            aria-describedby="composer-hint"
          />
          <p id="composer-hint" className="hint">
            Enter sends; Shift+Enter starts a new line.
          </p>
          <button type="submit" disabled={sending || !draft.trim()}>
            {sending ? 'Sending…' : 'Send'}
          </button>
        </form>
      ) : (
        <>
          <FormError message={error} />
          <p className="hint">You are a viewer: you can read the conversation but not take part.</p>
        </>
      )}
    </section>
  );
}

function speaker(role: string, agentType: string | null): string {
  if (role === 'user') return 'You';
  if (role === 'system') return 'Vibe';
  return agentType ? `${agentType[0].toUpperCase()}${agentType.slice(1)} agent` : 'Agent';
}
