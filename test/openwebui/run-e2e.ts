/**
 * End-to-end: the filter inside a real Open WebUI (pinned PyPI release, offline) talking to
 * the real sidecar, with the fake OpenRouter as the model provider. Run: `npm run test:openwebui`
 * (builds the sidecar first). Exits non-zero on the first failed check; nothing is skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeOpenRouter, type LedgerEntry } from '../fakes/openrouter/fake-openrouter.js';
import { ensureOpenWebUIVenv, OPEN_WEBUI_VERSION } from './openwebui-venv.js';
import {
  createOpenWebUIClient,
  messageText,
  OpenWebUIError,
  type Account,
  type ChatMessage,
} from './openwebui-client.js';
import { createOpenWebUI, createSidecar, REPO_ROOT, type ManagedProcess } from './processes.js';
import { createSidecarClient } from './sidecar-client.js';

const FILTER_ID = 'mai_usage';
const PASSWORD = 'E2e-passw0rd!';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function step(title: string) {
  console.log(`\n▶ ${title}`);
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Runs the built `mai-usage` CLI and returns what it printed; fails the test on a non-zero exit. */
function runCli(args: string[], env: NodeJS.ProcessEnv): string {
  const result = spawnSync(process.execPath, [join(REPO_ROOT, 'dist', 'sidecar', 'src', 'cli.js'), ...args], {
    env,
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `mai-usage ${args[0]} failed: ${result.stderr}`);
  console.log(`  ${result.stdout.trim()}`);
  return result.stdout;
}

function spoolLines(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir)
    .filter((name) => name === 'spool.jsonl' || name.startsWith('replaying-'))
    .reduce((sum, name) => sum + readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean).length, 0);
}

async function main() {
  const workdir = mkdtempSync(join(tmpdir(), 'mai-usage-e2e-'));
  const spoolDir = join(workdir, 'spool');
  const ingestToken = randomBytes(24).toString('hex');
  const adminToken = randomBytes(24).toString('hex');
  const openRouterKey = `sk-or-v1-${randomBytes(24).toString('hex')}`;
  const processes: ManagedProcess[] = [];
  const fake = await createFakeOpenRouter({ apiKeys: [openRouterKey] });
  let failed = false;

  try {
    step(`Open WebUI ${OPEN_WEBUI_VERSION} venv`);
    const python = ensureOpenWebUIVenv();

    step('start the sidecar and Open WebUI (offline, fake OpenRouter as its connection)');
    const openWebUI = await createOpenWebUI({
      python,
      dataDir: join(workdir, 'openwebui'),
      openaiApiBase: fake.apiBase,
      openaiApiKey: openRouterKey,
      logPath: join(workdir, 'openwebui.log'),
    });
    processes.push(openWebUI);
    const sidecar = await createSidecar({
      dataDir: join(workdir, 'sidecar'),
      ingestToken,
      adminToken,
      openWebUIUrl: openWebUI.url,
      openRouterApiBase: fake.apiBase,
      logPath: join(workdir, 'sidecar.log'),
    });
    processes.push(sidecar);
    await Promise.all([sidecar.start(), openWebUI.start()]);
    console.log(
      `  Open WebUI ${openWebUI.url}, sidecar ${sidecar.url}, fake OpenRouter ${fake.url}, logs in ${workdir}`,
    );

    const owui = createOpenWebUIClient(openWebUI.url);
    const side = createSidecarClient(() => sidecar.url, adminToken, ingestToken);

    step('accounts: an admin and two users in two organisations');
    const admin = await owui.signUpAdmin('Admin', 'admin@e2e.example', PASSWORD);
    assert.equal(admin.role, 'admin');
    const alice = await owui.addUser(admin, 'Alice', 'alice@e2e.example', PASSWORD);
    const bob = await owui.addUser(admin, 'Bob', 'bob@e2e.example', PASSWORD);
    const orgA = await side.createClient('Org A (e2e)');
    const orgB = await side.createClient('Org B (e2e)', 50);
    await side.mapUser(admin.id, orgA);
    await side.mapUser(alice.id, orgA);
    await side.mapUser(bob.id, orgB);
    const orgOf = new Map([
      [admin.id, orgA],
      [alice.id, orgA],
      [bob.id, orgB],
    ]);

    step('install the filter with `mai-usage install-filter` (twice: idempotent)');
    const installArgs = [
      'install-filter',
      '--sidecar-url',
      sidecar.url,
      '--valve',
      `spool_dir=${spoolDir}`,
      '--valve',
      'replay_interval_seconds=2',
      '--valve',
      'limit_cache_seconds=1',
    ];
    const cliEnv = { ...sidecar.env, OPENWEBUI_ADMIN_API_KEY: admin.token };
    assert.match(runCli(installArgs, cliEnv), /filter created .*turned on: active, global/);
    assert.match(runCli(installArgs, cliEnv), /filter unchanged .*already active and global/);
    const installed = await owui.call<{ is_active: boolean; is_global: boolean }>(
      'GET',
      `/api/v1/functions/id/${FILTER_ID}`,
      admin.token,
    );
    assert.deepEqual([installed.is_active, installed.is_global], [true, true]);
    const valves = await owui.call<Record<string, unknown>>(
      'GET',
      `/api/v1/functions/id/${FILTER_ID}/valves`,
      admin.token,
    );
    assert.equal(valves.sidecar_url, sidecar.url);
    assert.equal(valves.ingest_token, ingestToken);
    assert.equal(valves.spool_dir, spoolDir);
    assert.equal(valves.replay_interval_seconds, 2);

    const ui = { chats: [] as Array<{ chatId: string; messageId: string; account: Account }> };
    async function uiConversation(account: Account, model: string, turns: string[]) {
      const history: ChatMessage[] = [];
      let chatId: string | undefined;
      let parentId: string | null = null;
      for (const content of turns) {
        const turn = await owui.uiTurn(account, model, { chatId, history, parentId, content });
        chatId = turn.chatId;
        const message = await owui.waitForAssistant(account, turn.chatId, turn.assistantMessageId);
        assert.ok(!message.error, `UI turn failed: ${JSON.stringify(message.error)}`);
        const text = messageText(message);
        assert.match(text, /word1 word2/, 'UI answer streamed into the chat');
        history.push({ role: 'user', content }, { role: 'assistant', content: text });
        parentId = turn.assistantMessageId;
        ui.chats.push({ chatId: turn.chatId, messageId: turn.assistantMessageId, account });
      }
    }

    step('UI path: a three-turn streamed chat (Alice) and a single turn (Bob)');
    await uiConversation(alice, 'fake/alpha', [
      'Hello there, how are you?',
      'Tell me more please',
      'And one more thing',
    ]);
    await uiConversation(bob, 'fake/reasoner', ['Think about this question']);

    step('API path: streamed and not streamed');
    const streamed = await owui.apiStream(bob, 'fake/alpha', [{ role: 'user', content: 'Stream me an answer' }]);
    assert.equal(streamed.status, 200);
    assert.match(streamed.text, /"usage"/);
    assert.match(streamed.text, /data: \[DONE\]/);
    const plain = await owui.apiCompletion(alice, 'fake/byok', [{ role: 'user', content: 'A plain request' }]);
    assert.match(plain.choices[0]?.message.content ?? '', /word1/);
    const plainAdmin = await owui.apiCompletion(admin, 'fake/reasoner', [{ role: 'user', content: 'Admin asks' }]);
    assert.match(plainAdmin.choices[0]?.message.content ?? '', /word1/);

    step('a UI stream cancelled mid-way');
    Object.assign(fake.behavior, { chunkDelayMs: 250, replyWords: 40 });
    const beforeCancel = fake.ledger.length;
    const cancelTurn = await owui.uiTurn(alice, 'fake/alpha', {
      history: [],
      parentId: null,
      content: 'This will be cancelled',
    });
    await sleep(2_000);
    await owui.stopChat(alice, cancelTurn.chatId);
    const cancelledEntry = await eventually('the fake to see the stream cancelled', async () =>
      fake.ledger.slice(beforeCancel).find((entry) => entry.cancelled),
    );
    Object.assign(fake.behavior, { chunkDelayMs: 5, replyWords: 12 });
    assert.ok(cancelledEntry.completionTokens > 0 && cancelledEntry.completionTokens < 40, 'cancelled mid-way');

    step('the sidecar ledger matches the fake OpenRouter ledger exactly');
    await assertLedgersMatch();
    assert.ok(
      await side.holdsEvent({
        event_id: `start:${cancelledEntry.id}`,
        kind: 'generation_started',
        occurred_at: new Date().toISOString(),
        user: { id: alice.id },
        model: 'fake/alpha',
        generation_id: cancelledEntry.id,
        channel: 'ui',
      }),
      'the cancelled stream has its generation_started event',
    );
    const all = [...(await side.exportEvents(orgA)), ...(await side.exportEvents(orgB))];
    assert.ok(
      !all.some((event) => event.generation_id === cancelledEntry.id),
      'no completion billed by ingest for the cancelled stream',
    );
    for (const chat of ui.chats) {
      const event = all.find((e) => e.chat_id === chat.chatId && e.message_id === chat.messageId);
      assert.ok(event, `UI turn ${chat.messageId} carries its chat and message ids`);
      assert.equal(event.channel, 'ui');
      assert.equal(event.user_id, chat.account.id);
    }
    assert.equal(all.filter((e) => e.channel === 'api').length, 3, 'three API completions');

    step('sidecar stopped: chats still succeed, events spool');
    await sidecar.stop();
    await uiConversation(alice, 'fake/reasoner', ['Sidecar is down now']);
    const downStream = await owui.apiStream(bob, 'fake/byok', [{ role: 'user', content: 'Still streaming' }]);
    assert.equal(downStream.status, 200);
    const downPlain = await owui.apiCompletion(bob, 'fake/alpha', [{ role: 'user', content: 'Still answering' }]);
    assert.match(downPlain.choices[0]?.message.content ?? '', /word1/);
    await eventually('events in the spool', async () => spoolLines(spoolDir) >= 3, 10_000);
    console.log(`  spool holds ${spoolLines(spoolDir)} events`);

    step('sidecar back, installing the filter at start: the spool replays to exactly the same totals');
    // Switched off by hand while the sidecar was down; the sidecar's own install at start (with
    // OPENWEBUI_ADMIN_API_KEY) must switch it back on and keep the valves set above.
    await owui.setFilterActive(admin, FILTER_ID, false);
    Object.assign(sidecar.env, { OPENWEBUI_ADMIN_API_KEY: admin.token, FILTER_SIDECAR_URL: sidecar.url });
    await sidecar.start();
    await eventually('the sidecar to switch the filter back on', async () => {
      const state = await owui.call<{ is_active: boolean }>('GET', `/api/v1/functions/id/${FILTER_ID}`, admin.token);
      return state.is_active;
    });
    const valvesAfter = await owui.call<Record<string, unknown>>(
      'GET',
      `/api/v1/functions/id/${FILTER_ID}/valves`,
      admin.token,
    );
    assert.equal(valvesAfter.spool_dir, spoolDir, 'an install keeps valves it does not set');
    await eventually('the spool to drain', async () => spoolLines(spoolDir) === 0, 30_000);
    await assertLedgersMatch();

    step('limits: Bob over his org limit is blocked on the UI and API paths; Alice is not');
    await side.setMonthlyLimit(orgB, 0.000001);
    await sleep(1_200); // the filter's limit cache (1 s in this test)
    const chargedBefore = fake.ledger.length;
    const blockedTurn = await owui.uiTurn(bob, 'fake/alpha', { history: [], parentId: null, content: 'Am I blocked?' });
    const blockedMessage = await owui.waitForAssistant(bob, blockedTurn.chatId, blockedTurn.assistantMessageId);
    const uiError = JSON.stringify(blockedMessage.error ?? '');
    assert.match(uiError, /Usage limit reached/, `UI block message, got ${uiError}`);
    const apiBlocked = await owui.apiCompletion(bob, 'fake/alpha', [{ role: 'user', content: 'Am I blocked?' }]).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(apiBlocked instanceof OpenWebUIError, 'API call blocked');
    assert.equal(apiBlocked.status, 400);
    assert.match(apiBlocked.body, /Usage limit reached/);
    assert.equal(fake.ledger.length, chargedBefore, 'a blocked request never reaches OpenRouter');
    const aliceAllowed = await owui.apiCompletion(alice, 'fake/alpha', [{ role: 'user', content: 'I am fine' }]);
    assert.match(aliceAllowed.choices[0]?.message.content ?? '', /word1/);
    console.log(`  block message: ${apiBlocked.body.slice(0, 200)}`);
    await assertLedgersMatch();

    console.log(
      `\n✔ end-to-end passed: ${fake.completed().length} completions, 1 cancelled stream, Open WebUI ${OPEN_WEBUI_VERSION}`,
    );

    /** Exactly one sidecar event per completion the fake charged, same user, tokens and cost. */
    async function assertLedgersMatch() {
      const charged = fake.completed();
      const events = await eventually(`the sidecar to hold ${charged.length} completions`, async () => {
        const rows = [...(await side.exportEvents(orgA)), ...(await side.exportEvents(orgB))];
        return rows.length >= charged.length ? rows : undefined;
      });
      assert.equal(events.length, charged.length, 'one event per completion, no more');
      assert.equal(new Set(events.map((e) => e.event_id)).size, events.length, 'event ids unique');
      const key = (user: string | null, model: string, input: number, output: number, cost: bigint | string) =>
        `${user}|${model}|${input}|${output}|${cost}`;
      const unmatched = [...events];
      for (const entry of charged) {
        assert.equal(entry.user !== null, true, `OpenRouter received the user field for ${entry.id}`);
        const wanted = key(entry.user, entry.model, entry.promptTokens, entry.completionTokens, rawCost(entry));
        const index = entry.streamed
          ? unmatched.findIndex((e) => e.event_id === entry.id)
          : unmatched.findIndex(
              (e) =>
                e.generation_id === null &&
                key(e.user_id, e.model, e.input_tokens, e.output_tokens, e.raw_cost_nano_usd) === wanted,
            );
        assert.notEqual(
          index,
          -1,
          `sidecar event for ${entry.streamed ? 'streamed' : 'plain'} generation ${entry.id} (${wanted}); unmatched: ${JSON.stringify(unmatched)}`,
        );
        const [event] = unmatched.splice(index, 1);
        assert.ok(event);
        assert.equal(
          key(event.user_id, event.model, event.input_tokens, event.output_tokens, event.raw_cost_nano_usd),
          wanted,
        );
        assert.equal(
          event.client_org_id === undefined || String(event.client_org_id) === orgOf.get(entry.user ?? ''),
          true,
        );
        assert.equal(event.cached_tokens ?? 0, entry.cachedTokens);
        assert.equal(event.reasoning_tokens ?? 0, entry.reasoningTokens);
      }
      assert.deepEqual(unmatched, [], 'no sidecar event without a charge');
      for (const [name, org] of [
        ['A', orgA],
        ['B', orgB],
      ] as const) {
        const users = [...orgOf].filter(([, o]) => o === org).map(([user]) => user);
        const fakeTotal = sumRaw(charged.filter((e) => users.includes(e.user ?? '')));
        const sideTotal = (await side.exportEvents(org)).reduce((total, e) => total + BigInt(e.raw_cost_nano_usd), 0n);
        assert.equal(sideTotal, fakeTotal, `org ${name} raw cost total`);
        for (const user of users) {
          const userFake = sumRaw(charged.filter((e) => e.user === user));
          const userSide = events
            .filter((e) => e.user_id === user)
            .reduce((t, e) => t + BigInt(e.raw_cost_nano_usd), 0n);
          assert.equal(userSide, userFake, `user ${user} raw cost total`);
        }
      }
      console.log(`  ${events.length} events match the fake's ledger (per event, per user, per org)`);
    }
  } catch (error) {
    failed = true;
    console.error(
      '\n✘ end-to-end failed:',
      error instanceof Error ? (error.stack ?? error.message) : error,
      (error as { cause?: unknown })?.cause ?? '',
    );
    console.error(`  logs kept in ${workdir}`);
  } finally {
    for (const process of processes.reverse()) await process.stop().catch(() => undefined);
    await fake.close();
    if (!failed && !process.env.MAI_USAGE_KEEP_E2E) rmSync(workdir, { recursive: true, force: true });
  }
  process.exitCode = failed ? 1 : 0;
}

/**
 * What the generation cost in all: OpenRouter's charge, plus, for BYOK, the upstream provider's
 * cost billed to the key's owner (the sidecar's raw cost for a BYOK event is fee + upstream).
 */
function rawCost(entry: LedgerEntry): bigint {
  return entry.costNanoUsd + (entry.isByok ? (entry.upstreamCostNanoUsd ?? 0n) : 0n);
}

function sumRaw(entries: LedgerEntry[]): bigint {
  return entries.reduce((total, entry) => total + rawCost(entry), 0n);
}

await main();
