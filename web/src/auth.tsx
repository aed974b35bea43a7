// Who is signed in, shared by every page. The session lives in the `vibe_session` cookie the server
// sets; the UI only asks `GET /api/users/me` who that is. When any call answers 401 the session is
// over: the person is sent to the login page with a message (`notice`), and back where they were after
// login.

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { api, onUnauthorized } from './api/client';
import type { User } from './api/types';

export interface AuthState {
  /** `undefined` while we ask the server, `null` when nobody is signed in. */
  user: User | null | undefined;
  signedIn: (user: User) => void;
  logout: () => Promise<void>;
  refresh: () => Promise<void>;
  /** Why the person is being asked to log in (logged out, session ended), until they sign in. */
  notice: string | null;
}

export const LOGGED_OUT = 'You are logged out.';
export const SESSION_ENDED = 'Your session has ended. Please log in again.';

/** Exported for tests, which provide a signed-in person without a server. */
export const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      setUser(await api.me());
    } catch {
      setUser(null);
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  // Any call answering 401 ends the session; pages that need a login then send the person to /login.
  const current = useRef(user);
  current.current = user;
  useEffect(() => {
    onUnauthorized(() => {
      if (current.current) setNotice(SESSION_ENDED);
      setUser(null);
    });
    return () => onUnauthorized(null);
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      navigator.serviceWorker?.controller?.postMessage('clear-api');
      // The page the person was on now asks for a login and sends them to /login; the notice says why.
      setNotice(LOGGED_OUT);
      setUser(null);
    }
  }, []);

  const signedIn = useCallback((signed: User) => {
    setNotice(null);
    setUser(signed);
  }, []);

  const value = useMemo(() => ({ user, signedIn, logout, refresh, notice }), [user, signedIn, logout, refresh, notice]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}
