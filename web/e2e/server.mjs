// Starts a real `vibe serve` for the end-to-end journey: a fresh PostgreSQL database on
// 127.0.0.1:5432 (dropped afterwards), a temporary data directory, this UI's build as VIBE_WEB_DIR.
//
// The apps the journey builds compile into a target directory kept between runs (E2E_BUILD_CACHE,
// default `<cargo target dir>/e2e-app-builds`, linked in as the data directory's `build/target`):
// a fresh one compiles the app SDK's dependencies first, which takes minutes on a busy machine,
// so the build limit is raised too (VIBE_BUILD_TIMEOUT_SECS, default 900 here).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';

const ADMIN_URL = process.env.E2E_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

const cargoTarget = (repo) => process.env.CARGO_TARGET_DIR ?? join(repo, 'target');

/** The `vibe` binary: VIBE_BIN, else the debug build of CARGO_TARGET_DIR or the repository's target/. */
export function vibeBinary(repo) {
  const bin = process.env.VIBE_BIN ?? join(cargoTarget(repo), 'debug', 'vibe');
  if (!existsSync(bin)) throw new Error(`no vibe binary at ${bin}: run \`cargo build -p vibe-host --bin vibe\` (or set VIBE_BIN)`);
  return bin;
}

export async function startVibe({ repo, webDir }) {
  const database = `vibe_e2e_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const databaseUrl = new URL(ADMIN_URL);
  databaseUrl.pathname = `/${database}`;

  const dataDir = mkdtempSync(join(tmpdir(), 'vibe-e2e-'));
  const buildCache = resolve(process.env.E2E_BUILD_CACHE ?? join(cargoTarget(repo), 'e2e-app-builds'));
  mkdirSync(buildCache, { recursive: true });
  mkdirSync(join(dataDir, 'build'), { recursive: true });
  symlinkSync(buildCache, join(dataDir, 'build', 'target'), 'dir');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    VIBE_DATABASE_URL: databaseUrl.toString(),
    VIBE_DATA_DIR: dataDir,
  };
  const child = spawn(vibeBinary(repo), ['serve'], {
    cwd: repo,
    env: {
      ...env,
      VIBE_WEB_DIR: resolve(webDir),
      VIBE_LISTEN: `127.0.0.1:${port}`,
      VIBE_AUTH_RATE_PER_MINUTE: '100',
      VIBE_BUILD_TIMEOUT_SECS: process.env.VIBE_BUILD_TIMEOUT_SECS ?? '900',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let exited = null;
  child.on('exit', (code) => (exited = code));

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) throw new Error(`vibe serve exited with ${exited} before it was ready`);
    try {
      const response = await fetch(`${base}/readyz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('vibe serve was not ready within 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }

  async function stop() {
    if (exited === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))]);
      if (exited === null) child.kill('SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
    const cleanup = new pg.Client({ connectionString: ADMIN_URL });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await cleanup.end();
  }

  /** Runs another `vibe` command on the same database (e.g. `user create --operator`). */
  function vibe(args, extraEnv = {}) {
    return execFileSync(vibeBinary(repo), args, { cwd: repo, env: { ...env, ...extraEnv }, encoding: 'utf8' });
  }

  return { base, stop, vibe };
}
