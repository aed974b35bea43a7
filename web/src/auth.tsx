// Who is signed in, shared by every page. The session lives in the `vibe_session` cookie the server
// sets; the UI only asks `GET /api/users/me` who that is. When any call answers 401 the session is
// over: the person is sent to the login page with a message, and back where they were after login.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { api, onUnauthorized } from './api/client';
import type { User } from './api/types';

interface AuthState {
  /** `undefined` while we ask the server, `null` when nobody is signed in. */
  user: User | null | undefined;
  signedIn: (user: User) => void;
  logout: () => Promise<void>;
  refresh: () => Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const navigate = useNavigate();
  const location = useLocation();

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

  useEffect(() => {
    onUnauthorized(() => {
      setUser((current) => {
        if (current) {
          const next = encodeURIComponent(location.pathname + location.search);
          navigate(`/login?expired=1&next=${next}`, { replace: true });
        }
        return null;
      });
    });
    return () => onUnauthorized(null);
  }, [navigate, location.pathname, location.search]);

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      navigator.serviceWorker?.controller?.postMessage('clear-api');
      setUser(null);
      navigate('/login?loggedout=1', { replace: true });
    }
  }, [navigate]);

  const value = useMemo(() => ({ user, signedIn: setUser, logout, refresh }), [user, logout, refresh]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}
