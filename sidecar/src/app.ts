import { createServer, type RequestListener, type Server } from 'node:http';
import cors from 'cors';
import express, { Router } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { AppDeps } from './deps.js';
import { createAlertsRouter } from './features/alerts/alerts.router.js';
import { createHealthRouter } from './features/health/health.router.js';
import { INGEST_PATH, createIngestListener, type IngestListener } from './features/ingest/ingest.router.js';
import { createLimitsRouter, invalidateLimitsOnWrite } from './features/limits/limits.router.js';
import { createReconciliationRouter } from './features/reconciliation/reconciliation.router.js';
import { createMetricsRouter } from './features/metrics/metrics.router.js';
import { createPanelRouter } from './features/panel/panel.router.js';
import { createOrganizationsRouter } from './features/organizations/organizations.router.js';
import { createSettingsRouter } from './features/settings/settings.router.js';
import { createUsageRouter } from './features/usage/usage.router.js';
import { createUsageTrackingRouter, createWebhookRouter } from './features/usage-tracking/usage-tracking.router.js';
import { createUserMappingsRouter } from './features/user-mappings/user-mappings.router.js';
import { bearerToken, createAuthenticator, type Authenticator } from './http/auth.js';
import { createErrorHandler, routeNotFound } from './http/errors.js';
import { requestLog } from './http/request-log.js';
import { sha256Hex } from './lib/crypto.js';

/**
 * The sidecar's HTTP handler, built without listening: main.ts serves it (`listen`), tests call
 * it through supertest. The filter's writes go straight to the ingest listener, the hot path;
 * every other request to the Express app.
 */
export function createApp(deps: AppDeps): RequestListener {
  const authenticator = createAuthenticator({
    adminToken: deps.config.adminToken,
    ingestToken: deps.config.ingestToken,
    openWebUiUrl: deps.config.openWebUiUrl,
    logger: deps.logger,
    now: () => deps.now().getTime(),
  });
  const ingest = createIngestListener(deps, authenticator.identify);
  const api = createApi(deps, authenticator, ingest);
  return (req, res) => (req.method === 'POST' && req.url === INGEST_PATH ? ingest(req, res) : api(req, res));
}

/** Serves an app on a port; resolves once it listens. */
export function listen(app: RequestListener, port: number, host: string): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer(app).listen(port, host, () => resolve(server));
  });
}

function createApi(deps: AppDeps, { authenticate }: Authenticator, ingest: IngestListener): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  const logRequests = requestLog(deps.logger);

  // Guessing tokens is throttled per address; only rejected tokens (401) count, so people behind
  // one address are not slowed by each other's use. Not on ingest: usage is never refused.
  const limitFailedAuth = rateLimit({
    windowMs: 60_000,
    limit: 60,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
    handler: (_req, res) => {
      res.status(429).json({ error: { code: 'rate_limited', message: 'too many failed requests; retry in a minute' } });
    },
  });
  // Read and admin API only; ingest and the limit check are never throttled (usage is never refused).
  const limitReads = rateLimit({
    windowMs: 60_000,
    limit: deps.config.rateLimitPerMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => {
      const token = bearerToken(req);
      return token ? `token:${sha256Hex(token)}` : `ip:${ipKeyGenerator(req.ip ?? '')}`;
    },
    handler: (_req, res) => {
      res.status(429).json({ error: { code: 'rate_limited', message: 'too many requests; retry in a minute' } });
    },
  });

  const json = express.json({ limit: '5mb' });

  // The ingest path as Express spells it too (a trailing slash, another case, a query string).
  app.post(INGEST_PATH, (req, res) => ingest(req, res));
  app.use(logRequests);

  // GET /metrics (its own auth: METRICS_TOKEN or ADMIN_TOKEN).
  app.use(createMetricsRouter(deps));

  // The limit check, asked by the filter before each chat turn: server to server, never throttled.
  app.use('/api/v1/limits', authenticate, createLimitsRouter(deps));
  app.use(createHealthRouter(deps));

  // The admin panel runs inside Open WebUI's page, so only that origin may call us from a browser.
  app.use(
    cors({
      origin: deps.config.publicOpenWebUiOrigin ?? false,
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      maxAge: 600,
    }),
  );
  app.use(json);

  // The panel bundle, the loader Open WebUI mounts, and the operator's page: public static files.
  app.use(createPanelRouter({ publicSidecarUrl: deps.config.publicSidecarUrl }));

  const clientOrganizations = Router();
  clientOrganizations.use(limitFailedAuth, authenticate, limitReads);
  clientOrganizations.use(invalidateLimitsOnWrite(deps.limits));
  clientOrganizations.use(createSettingsRouter(deps));
  clientOrganizations.use(createOrganizationsRouter(deps));
  clientOrganizations.use(createUserMappingsRouter(deps));
  clientOrganizations.use(createAlertsRouter(deps));
  clientOrganizations.use('/usage', createUsageRouter(deps));
  // The seeds name these routes both ways; both are served.
  app.use('/api/v1/client-organizations', clientOrganizations);
  app.use('/client_organizations', clientOrganizations);

  app.use('/api/v1/usage-tracking', createWebhookRouter(deps));
  app.use(
    '/api/v1/usage-tracking',
    limitFailedAuth,
    authenticate,
    limitReads,
    createUsageTrackingRouter(deps),
    createReconciliationRouter(deps),
  );

  app.use(routeNotFound);
  app.use(createErrorHandler(deps.logger));
  return app;
}
