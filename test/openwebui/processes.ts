/**
 * Starts and stops the real processes the end-to-end test drives: Open WebUI (offline, with
 * the fake OpenRouter as its only OpenAI-compatible connection) and the built sidecar.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SIDECAR_MAIN = join(REPO_ROOT, 'dist', 'sidecar', 'src', 'main.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ManagedProcess {
  url: string;
  port: number;
  logPath: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function tail(path: string, chars = 4000): string {
  return existsSync(path) ? readFileSync(path, 'utf8').slice(-chars) : '(no log)';
}

function managed(options: {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  port: number;
  logPath: string;
  healthPath: string;
  startTimeoutMs: number;
}): ManagedProcess {
  let child: ChildProcess | undefined;
  const url = `http://127.0.0.1:${options.port}`;
  mkdirSync(dirname(options.logPath), { recursive: true });

  async function start() {
    const log = createWriteStream(options.logPath, { flags: 'a' });
    child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const started = Date.now();
    while (Date.now() - started < options.startTimeoutMs) {
      if (child.exitCode !== null) {
        throw new Error(`${options.name} exited with ${child.exitCode} at start:\n${tail(options.logPath)}`);
      }
      try {
        const response = await fetch(`${url}${options.healthPath}`, { signal: AbortSignal.timeout(1000) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(250);
    }
    throw new Error(
      `${options.name} did not become healthy in ${options.startTimeoutMs} ms:\n${tail(options.logPath)}`,
    );
  }

  async function stop() {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGTERM');
    const timer = setTimeout(() => current.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  return { url, port: options.port, logPath: options.logPath, start, stop };
}

export async function createOpenWebUI(options: {
  python: string;
  dataDir: string;
  openaiApiBase: string;
  openaiApiKey: string;
  logPath: string;
}): Promise<ManagedProcess> {
  const port = await freePort();
  mkdirSync(options.dataDir, { recursive: true });
  const openWebUI = join(dirname(options.python), 'open-webui');
  return managed({
    name: 'Open WebUI',
    command: openWebUI,
    args: ['serve', '--host', '127.0.0.1', '--port', String(port)],
    cwd: options.dataDir,
    port,
    logPath: options.logPath,
    healthPath: '/health',
    startTimeoutMs: 180_000,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LANG: 'C.UTF-8',
      DATA_DIR: options.dataDir,
      WEBUI_SECRET_KEY: 'mai-usage-e2e-secret',
      // Offline: no Ollama, no model downloads, no update checks, no telemetry.
      OFFLINE_MODE: 'true',
      HF_HUB_OFFLINE: '1',
      ENABLE_OLLAMA_API: 'false',
      RAG_EMBEDDING_ENGINE: 'openai',
      RAG_EMBEDDING_MODEL_AUTO_UPDATE: 'false',
      RAG_RERANKING_MODEL_AUTO_UPDATE: 'false',
      ENABLE_VERSION_UPDATE_CHECK: 'false',
      ANONYMIZED_TELEMETRY: 'false',
      SCARF_NO_ANALYTICS: 'true',
      DO_NOT_TRACK: 'true',
      // The fake OpenRouter is the only model connection.
      ENABLE_OPENAI_API: 'true',
      OPENAI_API_BASE_URL: options.openaiApiBase,
      OPENAI_API_KEY: options.openaiApiKey,
      // Background tasks also call the model, but never run outlet; keep the ledger to chats.
      ENABLE_TITLE_GENERATION: 'false',
      ENABLE_TAGS_GENERATION: 'false',
      ENABLE_FOLLOW_UP_GENERATION: 'false',
      ENABLE_AUTOCOMPLETE_GENERATION: 'false',
      ENABLE_API_OUTLET_FILTERS: 'true',
      ENABLE_SIGNUP: 'true',
      ENABLE_API_KEYS: 'true',
      // Models from the connection are visible to plain users without per-model grants.
      BYPASS_MODEL_ACCESS_CONTROL: 'true',
      GLOBAL_LOG_LEVEL: 'WARNING',
    },
  });
}

export async function createSidecar(options: {
  dataDir: string;
  ingestToken: string;
  adminToken: string;
  openWebUIUrl: string;
  openRouterApiBase: string;
  logPath: string;
}): Promise<ManagedProcess & { env: NodeJS.ProcessEnv }> {
  if (!existsSync(SIDECAR_MAIN)) {
    throw new Error(`${SIDECAR_MAIN} is missing: run \`npm run build\` first`);
  }
  const port = await freePort();
  mkdirSync(options.dataDir, { recursive: true });
  // Read at each start, so a test can change the environment before a restart.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_PATH: join(options.dataDir, 'mai-usage.db'),
    DATA_DIR: options.dataDir,
    INGEST_TOKEN: options.ingestToken,
    ADMIN_TOKEN: options.adminToken,
    OPENWEBUI_URL: options.openWebUIUrl,
    OPENROUTER_API_BASE: options.openRouterApiBase,
    // The fake serves no /generation yet; the sync job stays off in this test.
    OPENROUTER_USAGE_SYNC_INTERVAL: '0',
    NBP_API_BASE: 'http://127.0.0.1:9',
    LOG_LEVEL: 'warn',
  };
  const sidecar = managed({
    name: 'sidecar',
    command: process.execPath,
    args: [SIDECAR_MAIN],
    cwd: REPO_ROOT,
    port,
    logPath: options.logPath,
    healthPath: '/healthz',
    startTimeoutMs: 30_000,
    env,
  });
  return Object.assign(sidecar, { env });
}
