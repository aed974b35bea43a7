// The end-to-end journey through the UI, in Debian's Chromium (playwright-core) against a real
// `vibe serve` with a real database: each step acts as a person would, checks what they would see,
// saves a screenshot (e2e/screenshots/NN-step.png) and runs axe-core for WCAG 2.1 AA.
//
// Usage: `npm run build && npm run e2e` in web/, after `cargo build -p vibe-host --bin vibe`.
// CHROMIUM (default /usr/bin/chromium) and VIBE_BIN override the programs used.
//
// Each step is `{ name, run }`; `run(ctx)` gets the browser `page` of the person acting and the
// shared `ctx` (base URL, people, the idea). Steps run in order and the run stops at the first failure.
// The journey after the spec (confirm it, watch the build, open the live app and add a record) joins
// the list as steps of the same shape once the build pipeline serves `POST /api/ideas/{id}/build`.

import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { wcagViolations } from './accessibility.mjs';
import { startVibe } from './server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, '..');
const repo = resolve(web, '..');
const shots = join(here, 'screenshots');
const PASSWORD = 'correct horse battery staple';
const TIMEOUT = 15_000;

async function expectVisible(locator, what) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: TIMEOUT });
  } catch {
    throw new Error(`expected to see ${what}`);
  }
}

async function signUp(page, ctx, email, name) {
  await page.goto(`${ctx.base}/signup`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expectVisible(page.getByRole('heading', { name: 'Your ideas' }), 'the ideas page after signing up');
}

const steps = [
  {
    name: 'sign-up',
    run: async ({ page, ctx }) => {
      await page.goto(`${ctx.base}/signup`);
      await expectVisible(page.getByRole('heading', { name: 'Create your account' }), 'the sign-up form');
      await signUp(page, ctx, ctx.owner, 'Ada');
    },
  },
  {
    name: 'create-idea',
    run: async ({ page, ctx }) => {
      await page.getByLabel('Name a new idea').fill(ctx.ideaName);
      await page.getByRole('button', { name: 'Start' }).click();
      await page.waitForURL(/\/ideas\/[0-9a-f-]{36}$/, { timeout: TIMEOUT });
      ctx.ideaUrl = page.url();
      await expectVisible(page.getByRole('heading', { name: ctx.ideaName }), 'the idea as a conversation');
      await expectVisible(page.getByLabel('Your message'), 'the message box');
    },
  },
  {
    name: 'send-message',
    run: async ({ page }) => {
      const text = 'A booking page for my bike repair shop: customers pick a time slot and describe the problem.';
      await page.getByLabel('Your message').fill(text);
      await page.getByRole('button', { name: 'Send' }).click();
      const log = page.getByRole('log', { name: 'Messages' });
      await expectVisible(log.getByText(text), 'the message in the conversation');
      // Reload: the message comes back from the transcript, once.
      await page.reload();
      await expectVisible(log.getByText(text), 'the message after a reload');
      const copies = await log.getByText(text).count();
      if (copies !== 1) throw new Error(`the message shows ${copies} times after a reload`);
    },
  },
  {
    name: 'invite-collaborator',
    run: async ({ page, ctx }) => {
      await page.getByText('Share this idea', { exact: true }).click();
      await page.getByLabel('Invite by email').fill(ctx.viewer);
      await page.getByLabel('Role').selectOption('viewer');
      await page.getByRole('button', { name: 'Invite' }).click();
      await expectVisible(page.getByText(`${ctx.viewer} is invited as viewer`), 'the invitation confirmed');
    },
  },
  {
    name: 'credits',
    run: async ({ page, ctx }) => {
      await page.goto(`${ctx.base}/credits`);
      await expectVisible(page.getByRole('heading', { name: 'Credits' }), 'the credits page');
      await expectVisible(page.getByText('Balance:'), 'the balance');
    },
  },
  {
    name: 'log-out',
    run: async ({ page }) => {
      await page.getByRole('button', { name: 'Log out' }).click();
      await expectVisible(page.getByText('You are logged out.'), 'the logged-out notice');
    },
  },
  {
    name: 'log-in',
    run: async ({ page, ctx }) => {
      await page.getByLabel('Email').fill(ctx.owner);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      // Back where the person was when they logged out.
      await expectVisible(page.getByRole('heading', { name: 'Credits' }), 'the credits page again');
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Ideas' }).click();
      await expectVisible(page.getByRole('link', { name: ctx.ideaName }), 'the idea in the list after logging in');
    },
  },
  {
    name: 'phone-width',
    run: async ({ page, ctx }) => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(ctx.ideaUrl);
      await expectVisible(page.getByLabel('Your message'), 'the conversation on a phone');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) throw new Error(`the page is ${overflow}px wider than a phone's screen`);
    },
  },
  {
    // The phase is set through `PATCH /api/ideas/{id}` (as the agents' hand-offs will set it): the page
    // turns into the dashboard with the conversation beside the spec, the build and the app.
    name: 'dashboard',
    run: async ({ page, ctx }) => {
      await page.setViewportSize({ width: 1280, height: 800 });
      const ideaId = ctx.ideaUrl.split('/').pop();
      const status = await page.evaluate(
        (id) => fetch(`/api/ideas/${id}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'live' }) }).then((r) => r.status),
        ideaId,
      );
      if (status !== 200) throw new Error(`moving the idea on answered ${status}`);
      await page.goto(ctx.ideaUrl);
      for (const heading of ['Conversation', 'Spec', 'Build', 'App', 'People']) {
        await expectVisible(page.getByRole('heading', { name: heading, exact: true }), `the ${heading} panel`);
      }
      await expectVisible(page.getByLabel('Your message'), 'the message box beside the spec');
    },
  },
  {
    name: 'offline-browsing',
    run: async ({ page, ctx, context }) => {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(`${ctx.base}/`);
      await page.evaluate(() => navigator.serviceWorker.ready);
      // Once the service worker controls the page, what it loads is kept for offline use.
      await page.reload();
      await expectVisible(page.getByRole('link', { name: ctx.ideaName }), 'the ideas online');
      await context.setOffline(true);
      try {
        await page.reload();
        await expectVisible(page.getByRole('link', { name: ctx.ideaName }), 'the ideas offline');
      } finally {
        await context.setOffline(false);
      }
    },
  },
  {
    name: 'viewer-sees-the-idea',
    as: 'viewer',
    run: async ({ page, ctx }) => {
      await signUp(page, ctx, ctx.viewer, 'Bob');
      await page.getByRole('link', { name: ctx.ideaName }).click();
      await expectVisible(page.getByRole('heading', { name: ctx.ideaName }), 'the shared idea');
      await expectVisible(page.getByText('your role: viewer'), 'the viewer role');
      if (await page.getByLabel('Your message').count()) throw new Error('a viewer is offered the message box');
      await page.goto(`${ctx.base}/`);
      if (await page.getByRole('button', { name: `Delete ${ctx.ideaName}` }).count())
        throw new Error('a viewer is offered to delete the idea');
    },
  },
  {
    name: 'operator-console',
    as: 'operator',
    run: async ({ page, ctx }) => {
      ctx.server.vibe(['user', 'create', '--email', ctx.operator, '--name', 'Grace', '--operator'], {
        VIBE_USER_PASSWORD: PASSWORD,
      });
      await page.goto(`${ctx.base}/login`);
      await page.getByLabel('Email').fill(ctx.operator);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('link', { name: 'Operator console' }).click();
      await expectVisible(page.getByRole('heading', { name: 'Plugins' }), 'the plugins of the console');
      await expectVisible(page.getByRole('heading', { name: 'Routing' }), 'the routing of the console');
    },
  },
];

async function main() {
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  const server = await startVibe({ repo, webDir: join(web, 'dist') });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const stamp = Date.now();
  const ctx = {
    base: server.base,
    owner: `ada-${stamp}@example.com`,
    viewer: `bob-${stamp}@example.com`,
    operator: `grace-${stamp}@example.com`,
    server,
    ideaName: 'Bike repair bookings',
  };
  const people = {};
  async function pageFor(who) {
    if (!people[who]) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      people[who] = { context, page: await context.newPage() };
    }
    return people[who];
  }

  let passed = 0;
  let failed = 0;
  try {
    for (const [index, step] of steps.entries()) {
      const { page, context } = await pageFor(step.as ?? 'owner');
      const shot = join(shots, `${String(index + 1).padStart(2, '0')}-${step.name}.png`);
      try {
        await step.run({ page, context, ctx });
        await page.screenshot({ path: shot, fullPage: true });
        const violations = await wcagViolations(page);
        if (violations.length) throw new Error(`WCAG 2.1 AA violations:\n  ${violations.join('\n  ')}`);
        passed += 1;
        console.log(`ok   ${step.name} (${page.url().replace(ctx.base, '')})`);
      } catch (error) {
        failed += 1;
        await page.screenshot({ path: shot.replace('.png', '-failed.png'), fullPage: true }).catch(() => undefined);
        console.log(`FAIL ${step.name} (${page.url().replace(ctx.base, "")}): ${error.message}`);
        break;
      }
    }
  } finally {
    await browser.close();
    await server.stop();
  }
  const skipped = steps.length - passed - failed;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
