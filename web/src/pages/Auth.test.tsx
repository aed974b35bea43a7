import { afterEach, describe, expect, it, vi } from 'vitest';
import { render, screen, cleanup } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { AuthProvider } from '../auth';
import { LoginPage, MagicConfirmPage, MagicLinkPage, SignupPage } from './Auth';
import { ada, fakeServer } from '../test-support';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderAt(path: string) {
  return render(
    <MemoryRouter initialEntries={[path]} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
      <AuthProvider>
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route path="/signup" element={<SignupPage />} />
          <Route path="/magic-link" element={<MagicLinkPage />} />
          <Route path="/magic-link/confirm" element={<MagicConfirmPage />} />
          <Route path="/" element={<p>home page</p>} />
          <Route path="/credits" element={<p>credits page</p>} />
        </Routes>
      </AuthProvider>
    </MemoryRouter>,
  );
}

const unauthorized = () => ({ status: 401, body: { error: { code: 'unauthorized', message: 'sign in first' } } });

describe('log in', () => {
  it('shows the server’s refusal and stays on the page', async () => {
    fakeServer({
      'GET /api/users/me': unauthorized,
      'POST /api/auth/login': () => ({ status: 401, body: { error: { code: 'invalid_credentials', message: 'wrong email or password' } } }),
    });
    renderAt('/login');
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.type(screen.getByLabelText('Password'), 'bad password');
    await userEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('wrong email or password');
    expect(screen.getByRole('heading', { name: 'Log in' })).toBeInTheDocument();
  });

  it('signs in and goes back where the person was', async () => {
    const server = fakeServer({
      'GET /api/users/me': unauthorized,
      'POST /api/auth/login': () => ({ status: 200, body: { user: ada, token: 't' } }),
    });
    renderAt('/login?expired=1&next=%2Fcredits');
    expect(screen.getByText('Your session has ended. Please log in again.')).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText('Email'), ' ada@example.com ');
    await userEvent.type(screen.getByLabelText('Password'), 'correct horse');
    await userEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect(await screen.findByText('credits page')).toBeInTheDocument();
    expect(server.calls.find((c) => c.path === '/api/auth/login')?.body).toEqual({ email: 'ada@example.com', password: 'correct horse' });
  });

  it('never follows a next that leaves the site', async () => {
    fakeServer({ 'GET /api/users/me': unauthorized, 'POST /api/auth/login': () => ({ status: 200, body: { user: ada, token: 't' } }) });
    renderAt('/login?next=%2F%2Fevil.example');
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.type(screen.getByLabelText('Password'), 'correct horse');
    await userEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect(await screen.findByText('home page')).toBeInTheDocument();
  });
});

describe('sign up', () => {
  it('checks the fields before asking the server, and ties errors to them', async () => {
    const server = fakeServer({ 'GET /api/users/me': unauthorized });
    renderAt('/signup');
    await userEvent.type(screen.getByLabelText('Email'), 'not-an-address');
    await userEvent.type(screen.getByLabelText(/Password/), 'short');
    await userEvent.click(screen.getByRole('button', { name: 'Sign up' }));
    const password = screen.getByLabelText(/Password/);
    expect(password).toHaveAttribute('aria-invalid', 'true');
    expect(password).toHaveAccessibleDescription(/At least 8 characters.*Use at least 8 characters/);
    expect(screen.getByLabelText('Email')).toHaveAccessibleDescription('Enter an email address, like ada@example.com.');
    expect(server.calls.filter((c) => c.path === '/api/auth/signup')).toHaveLength(0);
  });

  it('creates the account and shows a taken address as the server says', async () => {
    let taken = true;
    const server = fakeServer({
      'GET /api/users/me': unauthorized,
      'POST /api/auth/signup': () =>
        taken
          ? { status: 409, body: { error: { code: 'conflict', message: 'that email is already registered' } } }
          : { status: 201, body: { user: ada, token: 't' } },
    });
    renderAt('/signup');
    await userEvent.type(screen.getByLabelText('Name'), 'Ada');
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.type(screen.getByLabelText(/Password/), 'correct horse battery');
    await userEvent.click(screen.getByRole('button', { name: 'Sign up' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('that email is already registered');
    taken = false;
    await userEvent.click(screen.getByRole('button', { name: 'Sign up' }));
    expect(await screen.findByText('home page')).toBeInTheDocument();
    expect(server.calls.at(-1)?.body).toEqual({ email: 'ada@example.com', password: 'correct horse battery', name: 'Ada' });
  });
});

describe('magic link', () => {
  it('requests a link and confirms one with a button', async () => {
    const server = fakeServer({
      'GET /api/users/me': unauthorized,
      'POST /api/auth/magic-link': () => ({ status: 202 }),
      'POST /api/auth/magic-link/confirm': () => ({ status: 200, body: { user: ada, token: 't' } }),
    });
    const { unmount } = renderAt('/magic-link');
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.click(screen.getByRole('button', { name: 'Send me a link' }));
    expect(await screen.findByRole('status')).toHaveTextContent('a link is on its way');
    unmount();

    renderAt('/magic-link/confirm?token=abc123');
    expect(server.calls.some((c) => c.path === '/api/auth/magic-link/confirm')).toBe(false);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('home page')).toBeInTheDocument();
    expect(server.calls.find((c) => c.path === '/api/auth/magic-link/confirm')?.body).toEqual({ token: 'abc123' });
  });
});

describe('session expiry', () => {
  it('sends the person to the login page with a message, and back after logging in', async () => {
    const { RequireLogin } = await import('../App');
    const { api } = await import('../api/client');
    const { useEffect } = await import('react');
    let expired = false;
    fakeServer({
      'GET /api/users/me': () => ({ status: 200, body: ada }),
      'GET /api/credits': () => (expired ? unauthorized() : { status: 200, body: { balance: 5, ledger: [], next_before: null } }),
      'POST /api/auth/login': () => ({ status: 200, body: { user: ada, token: 't' } }),
    });
    function Credits() {
      useEffect(() => {
        void api.credits().catch(() => undefined);
      }, []);
      return <p>credits page</p>;
    }
    expired = true;
    render(
      <MemoryRouter initialEntries={['/credits']} future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <AuthProvider>
          <Routes>
            <Route path="/login" element={<LoginPage />} />
            <Route path="/credits" element={<RequireLogin><Credits /></RequireLogin>} />
          </Routes>
        </AuthProvider>
      </MemoryRouter>,
    );
    expect(await screen.findByText('Your session has ended. Please log in again.')).toBeInTheDocument();
    expired = false;
    await userEvent.type(screen.getByLabelText('Email'), 'ada@example.com');
    await userEvent.type(screen.getByLabelText('Password'), 'correct horse');
    await userEvent.click(screen.getByRole('button', { name: 'Log in' }));
    expect(await screen.findByText('credits page')).toBeInTheDocument();
    expect(screen.queryByText(/session has ended/)).not.toBeInTheDocument();
  });
});
