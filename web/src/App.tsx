// The app's frame: landmarks (a skip link, the header with navigation, the main region) and routes.
// Pages that need a login send people to /login and back where they were.

import { Link, Navigate, NavLink, Route, Routes, useLocation } from 'react-router-dom';
import { AuthProvider, useAuth } from './auth';
import { LiveProvider, useLive } from './live';
import { LoginPage, MagicConfirmPage, MagicLinkPage, SignupPage } from './pages/Auth';
import { IdeasPage } from './pages/Ideas';
import { IdeaPage } from './pages/IdeaPage';
import { CreditsPage } from './pages/Credits';
import { OperatorPage } from './pages/Operator';
import type { ReactNode } from 'react';

export function App() {
  return (
    <AuthProvider>
      <Shell />
    </AuthProvider>
  );
}

function Shell() {
  const { user, refresh } = useAuth();
  const content = (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route path="/signup" element={<SignupPage />} />
          <Route path="/magic-link" element={<MagicLinkPage />} />
          <Route path="/magic-link/confirm" element={<MagicConfirmPage />} />
          <Route path="/" element={<RequireLogin><IdeasPage /></RequireLogin>} />
          <Route path="/ideas/:id" element={<RequireLogin><IdeaPage /></RequireLogin>} />
          <Route path="/credits" element={<RequireLogin><CreditsPage /></RequireLogin>} />
          <Route path="/operator" element={<RequireLogin><OperatorPage /></RequireLogin>} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
    </>
  );
  if (!user) return content;
  return <LiveProvider onLoggedOut={() => void refresh()}>{content}</LiveProvider>;
}

function Header() {
  const { user, logout } = useAuth();
  return (
    <header className="site-header">
      <Link to="/" className="brand">
        Vibe
      </Link>
      <nav aria-label="Main">
        {user ? (
          <ul>
            <li>
              <NavLink to="/" end>
                Ideas
              </NavLink>
            </li>
            <li>
              <NavLink to="/credits">Credits: {user.credits_balance}</NavLink>
            </li>
            {user.role === 'operator' && (
              <li>
                <NavLink to="/operator">Operator console</NavLink>
              </li>
            )}
            <li>
              <ConnectionBadge />
            </li>
            <li>
              <button type="button" className="link-button" onClick={() => void logout()}>
                Log out
              </button>
            </li>
          </ul>
        ) : (
          <ul>
            <li>
              <NavLink to="/login">Log in</NavLink>
            </li>
            <li>
              <NavLink to="/signup">Sign up</NavLink>
            </li>
          </ul>
        )}
      </nav>
    </header>
  );
}

function ConnectionBadge() {
  const { state } = useLive();
  const label = { connecting: 'Connecting…', open: 'Live', reconnecting: 'Reconnecting…', closed: 'Offline' }[state];
  return (
    <span className={`badge badge-${state}`} role="status" aria-label={`Live updates: ${label}`}>
      {label}
    </span>
  );
}

export function RequireLogin({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  const location = useLocation();
  if (user === undefined) return <p role="status">Loading…</p>;
  if (user === null) {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/login?next=${next}`} replace />;
  }
  return <>{children}</>;
}

function NotFound() {
  return (
    <section className="page narrow">
      <h1>Page not found</h1>
      <p>
        There is nothing here. <Link to="/">Go to your ideas</Link>.
      </p>
    </section>
  );
}
