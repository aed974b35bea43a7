// Sign up, log in, and sign in by mail (request a link; confirm it).

import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { ApiError, api } from '../api/client';
import { SESSION_ENDED, useAuth } from '../auth';
import { Field, FormError } from '../components/Field';

function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return 'Something went wrong. Please try again.';
}

/** Where to go after signing in: the `next` parameter when it is a path of ours. */
function useNext(): string {
  const [params] = useSearchParams();
  const next = params.get('next') ?? '/';
  return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function LoginPage() {
  const { signedIn, notice } = useAuth();
  const navigate = useNavigate();
  const next = useNext();
  const [params] = useSearchParams();
  const reason = notice ?? (params.get('expired') ? SESSION_ENDED : null);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { user } = await api.login(email.trim(), password);
      signedIn(user);
      navigate(next, { replace: true });
    } catch (failure) {
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="page narrow">
      <h1 ref={heading} tabIndex={-1}>
        Log in
      </h1>
      {reason && (
        <p className="notice" role="status">
          {reason}
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <FormError message={error} />
        <Field label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <Field
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
      <p>
        <Link to="/magic-link">Email me a sign-in link instead</Link>
      </p>
      <p>
        New to Vibe? <Link to={`/signup${next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`}>Create an account</Link>
      </p>
    </section>
  );
}

export function SignupPage() {
  const { signedIn } = useAuth();
  const navigate = useNavigate();
  const next = useNext();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const errors: Record<string, string> = {};
    if (!email.includes('@')) errors.email = 'Enter an email address, like ada@example.com.';
    if (password.length < 8) errors.password = 'Use at least 8 characters.';
    setFieldErrors(errors);
    if (Object.keys(errors).length > 0) return;
    setBusy(true);
    setError(null);
    try {
      const { user } = await api.signup(email.trim(), password, name.trim());
      signedIn(user);
      navigate(next, { replace: true });
    } catch (failure) {
      if (failure instanceof ApiError && failure.field) setFieldErrors({ [failure.field]: failure.message });
      setError(messageOf(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="page narrow">
      <h1>Create your account</h1>
      <form onSubmit={submit} noValidate>
        <FormError message={error} />
        <Field label="Name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
        <Field
          label="Email"
          type="email"
          autoComplete="email"
          required
          value={email}
          error={fieldErrors.email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <Field
          label="Password"
          type="password"
          autoComplete="new-password"
          required
          hint="At least 8 characters."
          value={password}
          error={fieldErrors.password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Sign up'}
        </button>
      </form>
      <p>
        Already have an account? <Link to="/login">Log in</Link>
      </p>
    </section>
  );
}

export function MagicLinkPage() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      await api.requestMagicLink(email.trim());
      setSent(true);
    } catch (failure) {
      setError(messageOf(failure));
    }
  }

  return (
    <section className="page narrow">
      <h1>Sign in by email</h1>
      {sent ? (
        <p role="status">If {email} can sign in, a link is on its way. It works once, for a short while.</p>
      ) : (
        <form onSubmit={submit} noValidate>
          <FormError message={error} />
          <Field label="Email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          <button type="submit">Send me a link</button>
        </form>
      )}
      <p>
        <Link to="/login">Log in with a password</Link>
      </p>
    </section>
  );
}

/** `/magic-link/confirm?token=…`: a button, so that mail scanners opening the link do not use it up. */
export function MagicConfirmPage() {
  const [params] = useSearchParams();
  const { signedIn } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const token = params.get('token') ?? '';

  async function confirm() {
    setError(null);
    try {
      const { user } = await api.confirmMagicLink(token);
      signedIn(user);
      navigate('/', { replace: true });
    } catch (failure) {
      setError(messageOf(failure));
    }
  }

  return (
    <section className="page narrow">
      <h1>Finish signing in</h1>
      <FormError message={error} />
      {token ? (
        <button type="button" onClick={() => void confirm()}>
          Sign in
        </button>
      ) : (
        <p>This link has no token. <Link to="/magic-link">Ask for a new one</Link>.</p>
      )}
    </section>
  );
}
