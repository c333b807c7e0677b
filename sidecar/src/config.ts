import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { parseMarkupRate } from './lib/money.js';
import { isValidTimeZone } from './lib/time.js';

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();
const url = z.url({ protocol: /^https?$/ }).transform((value) => value.replace(/\/+$/, ''));

const envSchema = z.object({
  PORT: integer(1, 65535).default(3100),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_PATH: z.string().min(1).default('./data/mai-usage.db'),
  DATABASE_URL: optionalText.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres://')
      .optional(),
  ),
  DATA_DIR: optionalText,
  INSTANCE_ID: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, - or _ (max 63)')
    .default('default'),
  INGEST_TOKEN: optionalText.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  ADMIN_TOKEN: optionalText.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  METRICS_TOKEN: optionalText.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  ENCRYPTION_KEY: optionalText.pipe(
    z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hexadecimal characters (32 bytes)')
      .optional(),
  ),
  OPENWEBUI_URL: url.default('http://localhost:8080'),
  PUBLIC_OPENWEBUI_ORIGIN: optionalText.pipe(url.optional()),
  OPENWEBUI_ADMIN_API_KEY: optionalText,
  FILTER_SIDECAR_URL: optionalText.pipe(url.optional()),
  PUBLIC_SIDECAR_URL: optionalText.pipe(url.optional()),
  OPENROUTER_API_BASE: url.default('https://openrouter.ai/api/v1'),
  OPENROUTER_API_KEY: optionalText,
  OPENROUTER_PROVISIONING_KEY: optionalText,
  OPENROUTER_USAGE_SYNC_INTERVAL: integer(0, 86_400).default(600),
  OPENROUTER_USAGE_SYNC_DAYS_BACK: integer(1, 30).default(1),
  NBP_API_BASE: url.default('https://api.nbp.pl'),
  NBP_CACHE_TTL_HOURS: integer(1, 168).default(24),
  NBP_MAX_DAYS_BACK: integer(1, 31).default(7),
  NBP_API_TIMEOUT: integer(1, 120).default(10),
  DEFAULT_MARKUP_RATE: z
    .string()
    .default('1.3')
    .refine((value) => parseMarkupRate(value) !== undefined, {
      message: 'must be a decimal between 0 and 1000 with at most 6 decimal places, e.g. 1.3',
    }),
  BILLING_CURRENCY: z.enum(['USD']).default('USD'),
  BILLING_TIMEZONE: z
    .string()
    .default('Europe/Warsaw')
    .refine(isValidTimeZone, { message: 'must be an IANA time zone such as Europe/Warsaw' }),
  RATE_LIMIT_PER_MINUTE: integer(1, 1_000_000).default(600),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Kept as given: a webhook's path may end in a slash.
  ALERT_WEBHOOK_URL: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
  ALERT_WEBHOOK_SECRET: optionalText.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  BACKUP_DIR: optionalText,
  BACKUP_RETENTION_DAYS: integer(1, 3650).default(14),
});

/** Every environment variable the sidecar reads (the compose file's test checks against it). */
export const configVariableNames: readonly string[] = Object.keys(envSchema.shape);

export type Config = {
  port: number;
  host: string;
  database: { client: 'sqlite'; path: string } | { client: 'pg'; url: string };
  dataDir: string;
  instanceId: string;
  ingestToken: string;
  adminToken: string;
  /** Lets Prometheus scrape /metrics without the operator token; undefined: ADMIN_TOKEN only. */
  metricsToken: string | undefined;
  encryptionKey: Buffer;
  openWebUiUrl: string;
  publicOpenWebUiOrigin: string | undefined;
  /** An Open WebUI admin's API key: with it the sidecar installs the filter at start. */
  openWebUiAdminApiKey: string | undefined;
  /** The sidecar's URL as Open WebUI reaches it, set into the filter's valves. */
  filterSidecarUrl: string;
  /** The sidecar's URL as browsers reach it, baked into the panel's loader.js. */
  publicSidecarUrl: string | undefined;
  openRouter: {
    apiBase: string;
    apiKey: string | undefined;
    provisioningKey: string | undefined;
    syncIntervalSeconds: number;
    syncDaysBack: number;
  };
  nbp: { apiBase: string; cacheTtlHours: number; maxDaysBack: number; timeoutSeconds: number };
  defaultMarkupRate: string;
  billingCurrency: 'USD';
  billingTimeZone: string;
  rateLimitPerMinute: number;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  /** Where limit alerts are posted, signed with the secret; undefined sends none. */
  alertWebhook: { url: string; secret: string } | undefined;
  /** SQLite backups: where they are written and how many days they are kept. */
  backup: { dir: string; retentionDays: number };
  /** Secrets that were generated at this start, with the file each was written to. */
  generatedSecrets: { name: string; file: string }[];
};

export class ConfigError extends Error {}

/** Which environment variables hold secrets, the file each is generated into, and how. */
const generatedSecretFiles = {
  INGEST_TOKEN: { file: '.ingest_token', generate: () => randomBytes(32).toString('base64url') },
  ADMIN_TOKEN: { file: '.admin_token', generate: () => randomBytes(32).toString('base64url') },
  ENCRYPTION_KEY: { file: '.encryption_key', generate: () => randomBytes(32).toString('hex') },
} as const;

/**
 * Reads a secret from the environment, else from its file in the data directory, else generates
 * it into that file once (like Open WebUI's .webui_secret_key), so a bare `npm start` works and
 * restarts keep the same tokens.
 */
function resolveSecret(
  name: keyof typeof generatedSecretFiles,
  fromEnv: string | undefined,
  dataDir: string,
  generated: Config['generatedSecrets'],
): string {
  if (fromEnv !== undefined) return fromEnv;
  const { file, generate } = generatedSecretFiles[name];
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path, `${generate()}\n`, { mode: 0o600, flag: 'wx' });
  generated.push({ name, file: path });
  return readFileSync(path, 'utf8').trim();
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    const got = env[name] === undefined ? '' : ` (got ${JSON.stringify(env[name])})`;
    throw new ConfigError(`Invalid configuration: ${name} ${issue?.message ?? 'is invalid'}${got}`);
  }
  const e = parsed.data;
  if (e.ALERT_WEBHOOK_URL !== undefined && e.ALERT_WEBHOOK_SECRET === undefined) {
    throw new ConfigError(
      'Invalid configuration: ALERT_WEBHOOK_SECRET is required when ALERT_WEBHOOK_URL is set (alerts are signed with it)',
    );
  }
  const databasePath = resolve(e.DATABASE_PATH);
  const dataDir = resolve(e.DATA_DIR ?? dirname(databasePath));
  const generatedSecrets: Config['generatedSecrets'] = [];
  const secret = (name: keyof typeof generatedSecretFiles, value: string | undefined) =>
    resolveSecret(name, value, dataDir, generatedSecrets);

  const encryptionKeyHex = secret('ENCRYPTION_KEY', e.ENCRYPTION_KEY);
  if (!/^[0-9a-fA-F]{64}$/.test(encryptionKeyHex)) {
    throw new ConfigError(
      `Invalid configuration: ENCRYPTION_KEY in ${join(dataDir, '.encryption_key')} must be 64 hexadecimal characters`,
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    database: e.DATABASE_URL ? { client: 'pg', url: e.DATABASE_URL } : { client: 'sqlite', path: databasePath },
    dataDir,
    instanceId: e.INSTANCE_ID,
    ingestToken: secret('INGEST_TOKEN', e.INGEST_TOKEN),
    adminToken: secret('ADMIN_TOKEN', e.ADMIN_TOKEN),
    metricsToken: e.METRICS_TOKEN,
    encryptionKey: Buffer.from(encryptionKeyHex, 'hex'),
    openWebUiUrl: e.OPENWEBUI_URL,
    publicOpenWebUiOrigin: e.PUBLIC_OPENWEBUI_ORIGIN,
    openWebUiAdminApiKey: e.OPENWEBUI_ADMIN_API_KEY,
    filterSidecarUrl: e.FILTER_SIDECAR_URL ?? `http://localhost:${e.PORT}`,
    publicSidecarUrl: e.PUBLIC_SIDECAR_URL,
    openRouter: {
      apiBase: e.OPENROUTER_API_BASE,
      apiKey: e.OPENROUTER_API_KEY,
      provisioningKey: e.OPENROUTER_PROVISIONING_KEY,
      syncIntervalSeconds: e.OPENROUTER_USAGE_SYNC_INTERVAL,
      syncDaysBack: e.OPENROUTER_USAGE_SYNC_DAYS_BACK,
    },
    nbp: {
      apiBase: e.NBP_API_BASE,
      cacheTtlHours: e.NBP_CACHE_TTL_HOURS,
      maxDaysBack: e.NBP_MAX_DAYS_BACK,
      timeoutSeconds: e.NBP_API_TIMEOUT,
    },
    defaultMarkupRate: e.DEFAULT_MARKUP_RATE,
    billingCurrency: e.BILLING_CURRENCY,
    billingTimeZone: e.BILLING_TIMEZONE,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    logLevel: e.LOG_LEVEL,
    alertWebhook:
      e.ALERT_WEBHOOK_URL && e.ALERT_WEBHOOK_SECRET
        ? { url: e.ALERT_WEBHOOK_URL, secret: e.ALERT_WEBHOOK_SECRET }
        : undefined,
    backup: { dir: resolve(e.BACKUP_DIR ?? join(dataDir, 'backups')), retentionDays: e.BACKUP_RETENTION_DAYS },
    generatedSecrets,
  };
}
