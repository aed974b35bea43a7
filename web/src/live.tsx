// One live-events connection for the whole signed-in app; pages subscribe to the events they show.

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { EventStream, type ConnectionState } from './api/events';
import type { StoredEvent } from './api/types';

type Listener = (event: StoredEvent) => void;

interface Live {
  state: ConnectionState;
  subscribe: (listener: Listener) => () => void;
}

export const LiveContext = createContext<Live>({ state: 'closed', subscribe: () => () => undefined });

export function LiveProvider({ children, onLoggedOut }: { children: ReactNode; onLoggedOut: () => void }) {
  const [state, setState] = useState<ConnectionState>('connecting');
  const listeners = useRef(new Set<Listener>());
  const loggedOut = useRef(onLoggedOut);
  loggedOut.current = onLoggedOut;

  useEffect(() => {
    const stream = new EventStream({
      onEvent: (event) => listeners.current.forEach((listener) => listener(event)),
      onState: setState,
      onLoggedOut: () => loggedOut.current(),
    });
    stream.start();
    return () => stream.stop();
  }, []);

  const subscribe = useCallback((listener: Listener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);
  const value = useMemo(() => ({ state, subscribe }), [state, subscribe]);
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export function useLive(): Live {
  return useContext(LiveContext);
}

/** Calls `listener` for each live event while the component is mounted. */
export function useLiveEvents(listener: Listener): void {
  const { subscribe } = useLive();
  const current = useRef(listener);
  current.current = listener;
  useEffect(() => subscribe((event) => current.current(event)), [subscribe]);
}
