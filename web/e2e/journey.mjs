// The end-to-end journey through the UI, in Debian's Chromium (playwright-core) against a real
// `vibe serve` with a real database: each step acts as a person would, checks what they would see,
// saves a screenshot (e2e/screenshots/NN-step.png) and runs axe-core for WCAG 2.1 AA.
//
// Usage: `npm run build && npm run e2e` in web/, after `cargo build -p vibe-host --bin vibe`.
// CHROMIUM (default /usr/bin/chromium) and VIBE_BIN override the programs used.
//
// Each step is `{ name, run }`; `run(ctx)` gets the browser `page` of the person acting, the shared
// `ctx` (base URL, people, the idea) and `snap(page, label)` for extra screenshots within the step.
// Steps run in order and the run stops at the first failure. The idea goes the whole way: the guided
// interview (no LLM configured) ends in a spec, the owner confirms it and presses Build, a real build
// (code generation, cargo, the app's tests, deploy) takes it live, and the owner opens the live app and
// adds a record in it. E2E_BUILD_TIMEOUT_MS (default 15 minutes) bounds the build.

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
const BUILD_TIMEOUT = Number(process.env.E2E_BUILD_TIMEOUT_MS ?? 15 * 60_000);
const INTERVIEW_TIMEOUT = 90_000;

/** What the owner answers to each of the guided interview's questions, found by what it asks about. */
const ANSWERS = [
  ['who will use', 'My customers book repairs; my two mechanics and I look after them'],
  ['keep track of', 'Repair bookings with customer name, bike model, date and a description of the problem'],
  ['pages', 'A list of bookings and a form to book a repair'],
  ['who may do what', 'I manage all bookings; signed-in customers can add a booking'],
  ['what problem', 'Customers phone us to book repairs and we lose track of who comes when'],
];

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

/** The last message of the conversation, as `{ count, role, speaker, content }` (role from its class). */
async function lastMessage(page) {
  return page.getByRole('log', { name: 'Messages' }).evaluate((log) => {
    const messages = log.querySelectorAll('article.message');
    const last = messages[messages.length - 1];
    if (!last) return { count: 0, role: null, speaker: null, content: '' };
    const role = [...last.classList].find((c) => c.startsWith('message-'))?.slice('message-'.length) ?? null;
    const speaker = last.querySelector('.speaker')?.textContent ?? null;
    return { count: messages.length, role, speaker, content: last.querySelector('.content')?.textContent ?? '' };
  });
}

/** Waits until `locator` is enabled. */
async function expectEnabled(locator, what) {
  const deadline = Date.now() + TIMEOUT;
  while (!(await locator.isEnabled().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`expected ${what} to be enabled`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A value the generated app's form accepts for a field of this kind. */
function valueFor(field) {
  switch (field.type) {
    case 'email':
      return 'rider@example.com';
    case 'number':
      return String(field.min !== '' ? Number(field.min) + 1 : 2);
    case 'date':
      return '2026-12-01';
    case 'datetime-local':
      return '2026-12-01T10:00';
    case 'time':
      return '10:00';
    case 'url':
      return 'https://example.com/bike';
    case 'tel':
      return '+44 20 7946 0000';
    default: {
      const text = field.tag === 'TEXTAREA' ? 'The rear tyre is flat and the chain skips.' : 'Flat tyre';
      return field.maxLength > 0 ? text.slice(0, field.maxLength) : text;
    }
  }
}

/** Fills every visible field of the generated app's form with a value it accepts. */
async function fillForm(form) {
  for (const input of await form.locator('input:not([type=hidden]):not([type=checkbox]):not([type=submit]), textarea, select').all()) {
    const field = await input.evaluate((el) => ({
      tag: el.tagName,
      type: el.type,
      min: el.min ?? '',
      maxLength: el.maxLength ?? -1,
      options: el.tagName === 'SELECT' ? [...el.options].map((o) => o.value).filter(Boolean) : [],
    }));
    if (field.tag === 'SELECT') {
      if (field.options.length) await input.selectOption(field.options[0]);
    } else {
      await input.fill(valueFor(field));
    }
  }
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
      await expectVisible(page.getByRole('cell', { name: 'welcome credits' }), 'the welcome grant in the ledger');
      // No Stripe keys on this server: buying says so instead of failing somewhere later.
      await page.getByRole('button', { name: 'Continue to payment' }).click();
      await expectVisible(page.getByRole('alert').filter({ hasText: 'Buying credits is not set up on this server' }), 'purchases explained as not set up');
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
    // No LLM is configured: the ideation agent interviews the owner one question at a time (the
    // opening was the message sent above), then the spec agent writes the spec and the phase moves on.
    name: 'guided-interview',
    run: async ({ page, ctx }) => {
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(ctx.ideaUrl);
      await expectVisible(page.getByLabel('Your message'), 'the conversation');
      const written = page.getByText(/^Version \d+, not confirmed yet\.$/);
      const deadline = Date.now() + INTERVIEW_TIMEOUT;
      let answered = 0; // how many messages there were when the owner last answered
      while (!(await written.count())) {
        if (Date.now() > deadline) throw new Error(`the interview did not end in a spec; the last message: ${JSON.stringify(await lastMessage(page))}`);
        const last = await lastMessage(page);
        if (last.role === 'system') throw new Error(`an agent turn failed: ${last.content}`);
        // Only the interviewer's questions are answered; the spec agent's presentation is not one.
        if (last.role === 'agent' && last.speaker === 'Ideation agent' && last.count > answered) {
          const question = last.content.toLowerCase();
          const answer = ANSWERS.find(([about]) => question.includes(about));
          if (answer) {
            answered = last.count;
            await page.getByLabel('Your message').fill(answer[1]);
            await page.getByRole('button', { name: 'Send' }).click();
            await expectVisible(page.getByRole('log', { name: 'Messages' }).getByText(answer[1]), 'the answer in the conversation');
          }
        }
        await page.waitForTimeout(500);
      }
    },
  },
  {
    // The interview moved the idea to its specification phase: the page is now a dashboard with the
    // conversation beside the spec, the build and the app.
    name: 'dashboard',
    run: async ({ page }) => {
      for (const heading of ['Conversation', 'Spec', 'Build', 'App', 'People']) {
        await expectVisible(page.getByRole('heading', { name: heading, exact: true }), `the ${heading} panel`);
      }
      await expectVisible(page.getByLabel('Your message'), 'the message box beside the spec');
      await expectVisible(page.getByText('Phase: specification'), 'the specification phase');
      const build = page.getByRole('button', { name: 'Build the app' });
      await expectVisible(build, 'the build button');
      if (await build.isEnabled()) throw new Error('the build is offered before the spec is confirmed');
    },
  },
  {
    name: 'confirm-spec',
    run: async ({ page }) => {
      await page.getByRole('button', { name: 'Confirm this spec' }).click();
      await expectVisible(page.getByText(/^Version \d+ confirmed\.$/), 'the spec confirmed');
      await expectEnabled(page.getByRole('button', { name: 'Build the app' }), 'the build button');
    },
  },
  {
    // A real build: the code is generated from the spec, compiled by cargo (repaired and tried again
    // if it fails), tested against the spec's test plan and deployed. A screenshot per stage reached.
    name: 'build',
    run: async ({ page, snap }) => {
      await page.getByRole('button', { name: 'Build the app' }).click();
      const panel = page.getByRole('region', { name: 'Build', exact: true });
      const status = panel.getByRole('status');
      const seen = new Set();
      const deadline = Date.now() + BUILD_TIMEOUT;
      const started = Date.now();
      for (;;) {
        const refused = panel.getByRole('alert');
        if (await refused.count()) throw new Error(`the build did not start: ${await refused.first().textContent()}`);
        const said = ((await status.textContent()) ?? '').trim();
        const stages = await panel.getByRole('list', { name: 'Build stages' }).getByRole('listitem').allTextContents().catch(() => []);
        for (const line of stages) {
          const [stage, state] = line.split(/:\s*/);
          const key = `${stage}:${(state ?? '').split(/\s/)[0]}`;
          if (!state || state.startsWith('pending') || seen.has(key)) continue;
          seen.add(key);
          console.log(`     ${Math.round((Date.now() - started) / 1000)} s: ${line}`);
          await snap(page, `${stage.toLowerCase().replace(/\W+/g, '-')}-${state.split(/\s/)[0]}`);
        }
        if (said.startsWith('The build succeeded')) break;
        if (said.startsWith('The build failed')) {
          const details = await panel.locator('.build-details').textContent().catch(() => '');
          throw new Error(`${said}\n  stages: ${stages.join(' | ')}\n  details: ${details}`);
        }
        if (Date.now() > deadline) throw new Error(`the build did not finish within ${BUILD_TIMEOUT / 1000} s: "${said}"; stages: ${stages.join(' | ')}`);
        await page.waitForTimeout(1000);
      }
      await expectVisible(panel.getByRole('listitem').filter({ hasText: /^Live: done/ }), 'the live stage done');
      await expectVisible(panel.getByText(/^\d+ passed, 0 failed$/), "the build's test report");
      // After a reload the panel shows the same build, from `GET /api/ideas/{id}/builds`.
      await page.reload();
      await expectVisible(panel.getByText(/^The build succeeded: version \d+ is live\.$/), 'the build after a reload');
      await expectVisible(panel.getByRole('listitem').filter({ hasText: /^Live: done/ }), 'the live stage after a reload');
      await expectVisible(panel.getByText(/^\d+ passed, 0 failed$/), "the build's test report after a reload");
    },
  },
  {
    // The live app: its home page in the preview (Vibe's address, read only) and in a tab of its own
    // (its own host, `{slug}.apps.localhost`, signed in through `/api/apps/{id}/open`), a record
    // added through its form there, the version with its test report and its code to download.
    name: 'live-app',
    run: async ({ page, context, snap }) => {
      const panel = page.getByRole('region', { name: /^App: / });
      await expectVisible(panel, 'the app panel');
      await expectVisible(panel.getByText(/^\d+ passed, 0 failed$/), "the live version's test report");
      const preview = page.frameLocator('iframe[title^="Preview of"]');
      await expectVisible(preview.locator('h1'), "the app's home page in the preview");

      const download = await panel.getByRole('link', { name: /^Download the code of version \d+$/ }).first().getAttribute('href');
      const source = await page.request.get(new URL(download, page.url()).href);
      const bytes = await source.body();
      if (source.status() !== 200 || bytes[0] !== 0x1f || bytes[1] !== 0x8b)
        throw new Error(`downloading the code answered ${source.status()} (${bytes.length} bytes, not a .tar.gz)`);

      const [app] = await Promise.all([context.waitForEvent('page'), panel.getByRole('link', { name: /^Open .* in a new tab$/ }).click()]);
      try {
        await app.waitForLoadState();
        await expectVisible(app.locator('h1'), "the app's home page");
        const heading = (await app.locator('h1').first().textContent())?.trim();
        console.log(`     the app's home page: "${heading}" at ${app.url()}`);
        await snap(app, 'home');
        const notes = await wcagViolations(app).catch((error) => [`axe-core could not run there: ${error.message}`]);
        if (notes.length) console.log(`     note: the generated app's home page has WCAG findings:\n       ${notes.join('\n       ')}`);

        // Add a record: the home page links the lists (within the app), a list links its form.
        const home = app.url();
        const lists = await app.locator('a[href]').evaluateAll(
          (links, base) => [...new Set(links.map((a) => a.href))].filter((href) => href.startsWith(base) && href !== base),
          home,
        );
        let form = null;
        for (const list of lists) {
          await app.goto(list);
          const create = app.locator('a[href$="/new"]');
          if (await create.count()) {
            await create.first().click();
            form = app.locator('form[method=post]').first();
            break;
          }
        }
        if (!form) throw new Error(`no list of the app offers a form to add a record (links: ${lists.join(', ')})`);
        await expectVisible(form, "the app's form");
        await fillForm(form);
        await snap(app, 'form');
        await form.getByRole('button', { name: 'Save' }).click();
        // Saved: 303 to the record's page (`/P/{id}`); invalid: the form again with a message per field.
        await app.waitForURL(/\/\d+$/, { timeout: TIMEOUT }).catch(() => undefined);
        if (!/\/\d+$/.test(new URL(app.url()).pathname)) {
          const said = await app.locator('body').innerText();
          throw new Error(`saving the record did not lead to it (${app.url()}): ${said.slice(0, 500)}`);
        }
        await expectVisible(app.locator('h1'), 'the new record');
        await snap(app, 'record');
      } finally {
        await app.close();
      }
    },
  },
  {
    // A spec change the generator refuses (a field whose rows exist changes type): the build fails with a
    // reason naming the field, and the version that was live stays live and serving.
    name: 'failed-build',
    run: async ({ page, snap }) => {
      const appPanel = page.getByRole('region', { name: /^App: / });
      const liveBefore = (await appPanel.getByText(/version \d+ is live/).first().textContent()).match(/version (\d+) is live/)[1];
      const spec = page.getByRole('region', { name: 'Spec', exact: true });
      const current = JSON.parse(await spec.getByLabel('The spec as JSON').textContent());
      const entity = current.entities[0];
      const field = entity.fields.findLast((f) => f.name !== entity.display_field && ['string', 'text'].includes(f.type));
      if (!field) throw new Error(`no text field to change in ${JSON.stringify(entity.fields)}`);
      // In the form editor, as a person would: the field becomes a whole number.
      await spec.getByRole('button', { name: 'Edit', exact: true }).click();
      await spec.getByLabel(`Type of field ${field.label || field.name} in ${entity.label || entity.name}`).selectOption('integer');
      await snap(page, 'spec-form');
      await spec.getByRole('button', { name: 'Save as a new version' }).click();
      await expectVisible(spec.getByText(/^Saved as version \d+\.$/), 'the changed spec saved');
      await spec.getByRole('button', { name: 'Confirm this spec' }).click();
      await expectVisible(spec.getByText(/^Version \d+ confirmed\.$/), 'the changed spec confirmed');

      const build = page.getByRole('region', { name: 'Build', exact: true });
      await expectEnabled(build.getByRole('button', { name: 'Build the app' }), 'the build button');
      await build.getByRole('button', { name: 'Build the app' }).click();
      const failed = build.getByText(/^The build failed/);
      await expectVisible(failed, 'the build failing');
      const details = (await build.textContent()) ?? '';
      if (!details.includes(field.name)) throw new Error(`the failure does not name the field "${field.name}": ${details}`);
      await snap(page, 'failed');
      await expectVisible(appPanel.getByText(new RegExp(`version ${liveBefore} is live`)), `version ${liveBefore} still live`);
      const preview = page.frameLocator('iframe[title^="Preview of"]');
      await expectVisible(preview.locator('h1'), 'the live version still serving in the preview');
    },
  },
  {
    // The whole dashboard (conversation, spec, build, app with its charts) fits a phone's screen.
    name: 'dashboard-phone-width',
    run: async ({ page, ctx }) => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(ctx.ideaUrl);
      for (const heading of ['Conversation', 'Spec', 'Build', 'People', 'Traffic']) {
        await expectVisible(page.getByRole('heading', { name: heading, exact: true }), `the ${heading} panel on a phone`);
      }
      await expectVisible(page.getByRole('img', { name: /^Requests per hour over the last 24 hours: [1-9]\d* in all/ }), 'the traffic chart with the requests made');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 0) throw new Error(`the dashboard is ${overflow}px wider than a phone's screen`);
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
      await expectVisible(page.getByRole('region', { name: /^App: / }), 'the live app');
      if (await page.getByRole('button', { name: /^Roll back/ }).count()) throw new Error('a viewer is offered a rollback');
      if (await page.getByRole('button', { name: 'Build the app' }).count()) throw new Error('a viewer is offered a build');
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
      // An account found by email, credits granted to it with a reason.
      await page.getByLabel('Email of the account').fill(ctx.owner);
      await page.getByRole('button', { name: 'Find', exact: true }).click();
      const account = page.getByRole('region', { name: `Account ${ctx.owner}` });
      await expectVisible(account, "the owner's account");
      await account.getByLabel('Credits to grant').fill('50');
      await account.getByLabel(/^Reason/).fill('thanks for testing');
      await account.getByRole('button', { name: 'Grant', exact: true }).click();
      await expectVisible(account.getByText(/^Granted 50 credits; the balance is now \d+\.$/), 'the grant made');
      await expectVisible(account.getByRole('cell', { name: 'thanks for testing' }), 'the grant in the ledger');
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
      let extra = 0;
      const snap = (on, label) => on.screenshot({ path: shot.replace('.png', `-${String.fromCharCode(97 + extra++)}-${label}.png`), fullPage: true });
      try {
        await step.run({ page, context, ctx, snap });
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
