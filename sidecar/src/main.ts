import { createApp, listen } from './app.js';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { assembleDeps } from './deps.js';
import { startCheckpointer } from './db/checkpointer.js';
import { createDb } from './db/knex.js';
import { installFilter } from './features/filter-install/filter-install.service.js';
import { createLogger } from './logger.js';

/**
 * config → db → migrate → listen → jobs; stopped in reverse on SIGTERM/SIGINT. When migrations
 * cannot run (another sidecar holds the lock, a step fails) the sidecar listens anyway: usage
 * goes to the ledger backlog, /readyz says degraded, and migrating is retried with backoff;
 * jobs start once it has finished (they need the current schema).
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  for (const secret of config.generatedSecrets) {
    logger.warn({ file: secret.file }, `${secret.name} was not set: generated one into ${secret.file}`);
  }
  const db = createDb(config.database);
  const deps = assembleDeps({ config, db, logger });

  const migrated = await deps.migrator.start();
  if (!migrated) logger.warn({ migrations: deps.health.migrations }, 'starting degraded: migrations will be retried');
  const { database } = config;
  const checkpointer =
    database.client === 'sqlite' && database.path !== ':memory:'
      ? startCheckpointer({ path: database.path, logger })
      : null;

  const server = await listen(createApp(deps), config.port, config.host);
  logger.info(
    {
      port: config.port,
      database: config.database.client === 'sqlite' ? config.database.path : 'postgresql',
      instance: config.instanceId,
      dataDir: config.dataDir,
    },
    `mai-usage sidecar listening on http://${config.host}:${config.port}`,
  );

  let stopping = false;
  void deps.migrator.migrated.then(() => {
    if (!stopping) deps.scheduler.start();
    if (!migrated) logger.info('migrations finished: ready');
  });
  const stopInstalling = config.openWebUiAdminApiKey ? installFilterUntilDone(config, logger) : () => undefined;

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    stopInstalling();
    deps.migrator.stop();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await deps.scheduler.stop();
    await deps.ledger.drain();
    await checkpointer?.stop();
    await db.destroy();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** Open WebUI may come up after us: retry with backoff (5 s … 60 s) until it answers. */
function installFilterUntilDone(config: Config, logger: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let attempt = 0;
  const tryInstall = async () => {
    attempt += 1;
    try {
      await installFilter({
        openWebUiUrl: config.openWebUiUrl,
        apiKey: config.openWebUiAdminApiKey!,
        valves: { sidecar_url: config.filterSidecarUrl, ingest_token: config.ingestToken },
        logger,
      });
    } catch (error) {
      const delay = Math.min(5_000 * 2 ** (attempt - 1), 60_000);
      logger.warn({ attempt, retryInMs: delay, err: String(error) }, 'could not install the filter in Open WebUI yet');
      timer = setTimeout(() => void tryInstall(), delay);
    }
  };
  void tryInstall();
  return () => clearTimeout(timer);
}

main().catch((error: unknown) => {
  process.stderr.write(`mai-usage failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
