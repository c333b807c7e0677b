/**
 * The admin panel embedded in the real Open WebUI (pinned PyPI release, offline), in Chromium.
 * Run: `npm run test:openwebui:panel`. The sidecar runs in-process on a fresh SQLite database
 * with the panel router in front; Open WebUI gets the sidecar's loader the way an operator
 * mounts it — over the copy source `<frontend>/static/loader.js` (DESIGN §4) — through a
 * hard-linked copy of its frontend build, so the cached venv is never modified.
 * Exits non-zero on the first failed check. Screenshots go to test-results/openwebui/.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, textOf } from '../../admin-panel/test-support/browser.js';
import { buildPanelForTests } from '../../admin-panel/test-support/build.js';
import { createPanelRouter } from '../../sidecar/src/features/panel/panel.router.js';
import { ADMIN_TOKEN, completionEvent, createTestApp, INGEST_TOKEN } from '../../sidecar/src/test-support/harness.js';
import { createOpenWebUIClient } from './openwebui-client.js';
import { ensureOpenWebUIVenv, OPEN_WEBUI_VERSION, VENV_DIR } from './openwebui-venv.js';
import { freePort, REPO_ROOT } from './processes.js';

const PASSWORD = 'Panel-passw0rd!';
const ARTIFACTS = join(REPO_ROOT, 'test-results', 'openwebui');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function step(title: string) {
  console.log(`\n▶ ${title}`);
}

/** A hard-linked copy of Open WebUI's frontend build whose static/loader.js is ours. */
function frontendWithLoader(python: string, loader: string): string {
  const site = spawnSync(python, ['-c', 'import open_webui, os; print(os.path.dirname(open_webui.__file__))'], {
    encoding: 'utf8',
  }).stdout.trim();
  const source = join(site, 'frontend');
  const farm = join(dirname(VENV_DIR), `panel-embed-frontend-${OPEN_WEBUI_VERSION}`);
  if (!existsSync(join(farm, 'index.html'))) {
    rmSync(farm, { recursive: true, force: true });
    const copy = spawnSync('cp', ['-al', source, farm]);
    if (copy.status !== 0) throw new Error(`cp -al ${source} ${farm} failed: ${copy.stderr}`);
  }
  const target = join(farm, 'static', 'loader.js');
  // Unlink first: writing through the hard link would change the venv's own file.
  if (existsSync(target)) unlinkSync(target);
  writeFileSync(target, loader);
  return farm;
}

async function startOpenWebUI(python: string, port: number, frontend: string, workdir: string): Promise<ChildProcess> {
  const dataDir = join(workdir, 'openwebui');
  mkdirSync(dataDir, { recursive: true });
  const log = createWriteStream(join(workdir, 'openwebui.log'));
  const child = spawn(join(dirname(python), 'open-webui'), ['serve', '--host', '127.0.0.1', '--port', String(port)], {
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LANG: 'C.UTF-8',
      DATA_DIR: dataDir,
      FRONTEND_BUILD_DIR: frontend,
      STATIC_DIR: join(workdir, 'static'),
      WEBUI_SECRET_KEY: 'mai-usage-panel-embed',
      OFFLINE_MODE: 'true',
      HF_HUB_OFFLINE: '1',
      ENABLE_OLLAMA_API: 'false',
      ENABLE_OPENAI_API: 'false',
      RAG_EMBEDDING_ENGINE: 'openai',
      RAG_EMBEDDING_MODEL_AUTO_UPDATE: 'false',
      RAG_RERANKING_MODEL_AUTO_UPDATE: 'false',
      ENABLE_VERSION_UPDATE_CHECK: 'false',
      ANONYMIZED_TELEMETRY: 'false',
      SCARF_NO_ANALYTICS: 'true',
      DO_NOT_TRACK: 'true',
      ENABLE_SIGNUP: 'true',
      GLOBAL_LOG_LEVEL: 'WARNING',
    },
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const started = Date.now();
  while (Date.now() - started < 180_000) {
    if (child.exitCode !== null)
      throw new Error(`Open WebUI exited with ${child.exitCode}; see ${workdir}/openwebui.log`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) })).ok) return child;
    } catch {
      // not listening yet
    }
    await sleep(500);
  }
  throw new Error(`Open WebUI did not become healthy; see ${workdir}/openwebui.log`);
}

async function stopProcess(child: ChildProcess | undefined) {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function signedInPage(
  browser: Browser,
  url: string,
  token: string,
  path: string,
): Promise<{ page: Page; errors: Error[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  await context.addInitScript({ content: `localStorage.setItem('token', ${JSON.stringify(token)});` });
  const page = await context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${url}${path}`);
  return { page, errors };
}

const cardValue = (page: Page, card: string) =>
  textOf(page.locator(`mai-stat-card[data-card="${card}"] [data-testid="value"]`));

async function main() {
  mkdirSync(ARTIFACTS, { recursive: true });
  const workdir = mkdtempSync(join(tmpdir(), 'mai-usage-panel-embed-'));
  let openWebUI: ChildProcess | undefined;
  let browser: Browser | undefined;
  let sidecar: Server | undefined;
  let failed = false;
  try {
    step(`Open WebUI ${OPEN_WEBUI_VERSION} venv and the panel build`);
    const python = ensureOpenWebUIVenv();
    const distDir = await buildPanelForTests();

    step('the sidecar (in-process, SQLite) with the panel router, checking tokens against Open WebUI');
    const owuiPort = await freePort();
    const owuiUrl = `http://127.0.0.1:${owuiPort}`;
    const test = await createTestApp('sqlite', { env: { OPENWEBUI_URL: owuiUrl, PUBLIC_OPENWEBUI_ORIGIN: owuiUrl } });
    const outer = express().use(createPanelRouter({ distDir })).use(test.app);
    sidecar = createServer(outer);
    const sidecarPort = await freePort();
    await new Promise<void>((resolve) => sidecar!.listen(sidecarPort, '127.0.0.1', resolve));
    const sidecarUrl = `http://127.0.0.1:${sidecarPort}`;

    step('Open WebUI with the sidecar loader mounted over <frontend>/static/loader.js');
    const loader = await (await fetch(`${sidecarUrl}/panel/loader.js`)).text();
    assert.ok(loader.includes(`const SIDECAR_URL = "${sidecarUrl}";`), 'the loader carries the sidecar URL');
    const frontend = frontendWithLoader(python, loader);
    openWebUI = await startOpenWebUI(python, owuiPort, frontend, workdir);
    const served = await (await fetch(`${owuiUrl}/static/loader.js`)).text();
    assert.equal(served, loader, 'Open WebUI serves our loader at /static/loader.js');
    console.log(`  Open WebUI ${owuiUrl}, sidecar ${sidecarUrl}, logs in ${workdir}`);

    step('accounts and usage: the admin in the default org, a user mapped to Acme');
    const client = createOpenWebUIClient(owuiUrl);
    const admin = await client.signUpAdmin('Ada Admin', 'ada@panel.example', PASSWORD);
    const user = await client.addUser(admin, 'Uma User', 'uma@panel.example', PASSWORD);
    const userAccount = await client.signIn('uma@panel.example', PASSWORD);
    const acme = (await test.as(ADMIN_TOKEN).post('/api/v1/client-organizations/clients').send({ name: 'Acme' })).body;
    await test.as(ADMIN_TOKEN).post('/api/v1/client-organizations/user-mappings').send({
      user_id: user.id,
      client_org_id: acme.id,
      user_email: user.email,
      user_name: user.name,
    });
    const now = new Date().toISOString();
    const events = [
      completionEvent({
        event_id: 'gen-embed-admin',
        occurred_at: now,
        user: { id: admin.id, email: admin.email, name: admin.name, role: 'admin' },
        usage: { input_tokens: 1000, output_tokens: 751, cost_usd: 0.00154 },
      }),
      completionEvent({
        event_id: 'gen-embed-user',
        occurred_at: now,
        user: { id: user.id, email: user.email, name: user.name, role: 'user' },
        usage: { input_tokens: 9000, output_tokens: 1000, cost_usd: 10 },
      }),
    ];
    const ingest = await test.as(INGEST_TOKEN).post('/api/v1/ingest/events').send({ events });
    assert.equal(ingest.status, 200, ingest.text);

    browser = await launchChromium();

    step('admin: Settings → Admin → Usage shows the cards with the real figures');
    {
      const { page, errors } = await signedInPage(browser, owuiUrl, admin.token, '/?settings=admin:general');
      const tab = page.locator('#settings-tabs-container [data-mai-usage-tab="admin"]');
      await tab.waitFor({ timeout: 30_000 });
      assert.equal(await textOf(tab), 'Usage');
      await tab.click();
      await page.locator('mai-usage-dashboard mai-stat-card[data-card="today-cost"]').waitFor({ timeout: 15_000 });
      assert.equal(await textOf(page.locator('mai-usage-dashboard [data-testid="org-name"]')), 'Default organization');
      assert.equal(await cardValue(page, 'today-tokens'), '1,751');
      assert.equal(await cardValue(page, 'today-cost'), '$0.002002');
      assert.equal(await cardValue(page, 'month-total'), '$0.002002');
      assert.equal(await page.locator('mai-usage-dashboard mai-trend-chart rect.bar').count(), 30);
      await page.screenshot({ path: join(ARTIFACTS, 'admin-usage-tab.png') });
      // Another tab hands the panel back to Open WebUI.
      await page.locator('#settings-tabs-container [aria-controls="tab-admin-general"]').click();
      assert.equal(await page.locator('mai-usage-dashboard').count(), 0);
      await page.locator('#tab-admin-general').waitFor();
      assert.deepEqual(errors, [], 'no page errors');
      await page.context().close();
    }

    step('user: Settings → My usage shows only their own org (Acme); no admin tab');
    {
      const { page, errors } = await signedInPage(browser, owuiUrl, userAccount.token, '/?settings=general');
      const tab = page.locator('#settings-tabs-container [data-mai-usage-tab="user"]');
      await tab.waitFor({ timeout: 30_000 });
      assert.equal(await page.locator('[data-mai-usage-tab="admin"]').count(), 0);
      await tab.click();
      await page.locator('mai-my-usage mai-stat-card[data-card="month-total"]').waitFor({ timeout: 15_000 });
      assert.equal(await textOf(page.locator('mai-my-usage [data-testid="org-name"]')), 'Acme');
      assert.equal(await cardValue(page, 'today-tokens'), '10,000');
      assert.equal(await cardValue(page, 'month-total'), '$13.00');
      await page.screenshot({ path: join(ARTIFACTS, 'user-my-usage.png') });
      assert.deepEqual(errors, [], 'no page errors');
      await page.context().close();
    }

    step("the operator's page on the sidecar");
    {
      const context = await browser.newContext({ viewport: { width: 1200, height: 700 } });
      const page = await context.newPage();
      await page.goto(`${sidecarUrl}/`);
      await page.getByLabel('Operator token (ADMIN_TOKEN)').fill(ADMIN_TOKEN);
      await page.keyboard.press('Enter');
      await page.locator('mai-data-table[data-testid="billing"] tbody tr').first().waitFor();
      assert.equal(await page.locator('mai-data-table[data-testid="billing"] tbody tr').count(), 2);
      await page.screenshot({ path: join(ARTIFACTS, 'operator-page.png') });
      await context.close();
    }

    step('sidecar stopped: Open WebUI pages still work, the Usage tab shows a quiet notice');
    await new Promise<void>((resolve) => sidecar!.close(() => resolve()));
    sidecar.closeAllConnections();
    sidecar = undefined;
    {
      const { page, errors } = await signedInPage(browser, owuiUrl, admin.token, '/');
      await page.locator('#sidebar, nav, main').first().waitFor({ timeout: 30_000 });
      await page.goto(`${owuiUrl}/?settings=admin:general`);
      const tab = page.locator('#settings-tabs-container [data-mai-usage-tab="admin"]');
      await tab.waitFor({ timeout: 30_000 });
      await tab.click();
      const notice = page.locator('[data-mai-usage-notice]');
      await notice.waitFor({ timeout: 15_000 });
      assert.match(await textOf(notice), /Usage data is unavailable right now/);
      await page.locator('#settings-tabs-container [aria-controls="tab-admin-general"]').click();
      await page.locator('#tab-admin-general').waitFor();
      assert.ok(await page.locator('#tab-admin-general').isVisible(), 'Open WebUI settings still work');
      await page.screenshot({ path: join(ARTIFACTS, 'sidecar-down.png') });
      assert.deepEqual(errors, [], 'no page errors');
      await page.context().close();
    }
    await test.close();
    console.log(
      `\n✔ panel embedded in Open WebUI ${OPEN_WEBUI_VERSION}: all checks passed (screenshots in ${ARTIFACTS})`,
    );
  } catch (error) {
    failed = true;
    console.error('\n✘', error);
    console.error(`  logs in ${workdir}: ${readdirSync(workdir).join(', ')}`);
  } finally {
    await browser?.close();
    if (sidecar) await new Promise<void>((resolve) => sidecar!.close(() => resolve()));
    await stopProcess(openWebUI);
    if (!failed) rmSync(workdir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

void main();
