// What the conversation shows, folded from the transcript and live events: messages by id (an event
// repeating a message already loaded changes nothing), whether an agent is thinking, the tool calls
// of the turn in progress.

import type { Message, StoredEvent } from '../api/types';

export interface ToolCall {
  eventId: number;
  name: string;
  agentType: string;
}

export interface ConversationState {
  messages: Message[];
  thinking: string | null;
  toolCalls: ToolCall[];
}

export const empty: ConversationState = { messages: [], thinking: null, toolCalls: [] };

/** Adds messages, keeping one copy of each id, in id order. */
export function withMessages(state: ConversationState, incoming: Message[]): ConversationState {
  const byId = new Map(state.messages.map((m) => [m.id, m]));
  let changed = false;
  for (const message of incoming) {
    if (!byId.has(message.id)) {
      byId.set(message.id, message);
      changed = true;
    }
  }
  if (!changed) return state;
  const messages = [...byId.values()].sort((a, b) => a.id - b.id);
  const answered = incoming.some((m) => m.role !== 'user');
  return { messages, thinking: answered ? null : state.thinking, toolCalls: answered ? [] : state.toolCalls };
}

/** Folds one live event of the session `sessionId` into the state. */
export function withEvent(state: ConversationState, sessionId: string, event: StoredEvent): ConversationState {
  if (event.data.session_id !== sessionId) return state;
  switch (event.type) {
    case 'agent:message': {
      const message = event.data.message as Message | undefined;
      return message ? withMessages(state, [message]) : state;
    }
    case 'agent:thinking':
      return { ...state, thinking: String(event.data.agent_type ?? 'agent') };
    case 'agent:tool_call':
      return {
        ...state,
        toolCalls: [
          ...state.toolCalls,
          { eventId: event.id, name: String(event.data.name ?? 'a tool'), agentType: String(event.data.agent_type ?? 'agent') },
        ],
      };
    default:
      return state;
  }
}
