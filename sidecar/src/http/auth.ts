import type { IncomingMessage } from 'node:http';
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { createHash, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../lib/crypto.js';
import { AppError } from './errors.js';

/**
 * Who is calling. The operator (ADMIN_TOKEN) is the reseller: every org, raw cost and profit.
 * An Open WebUI admin manages this instance's orgs; an Open WebUI user reads their own org.
 * Roles of Open WebUI users come only from Open WebUI itself, never from the request.
 */
export type Principal =
  | { kind: 'operator' }
  | { kind: 'ingest' }
  | { kind: 'admin'; userId: string; email: string; name: string }
  | { kind: 'user'; userId: string; email: string; name: string };

export type PrincipalKind = Principal['kind'];

const openWebUiUser = z.object({
  id: z.string(),
  email: z.string().default(''),
  name: z.string().default(''),
  role: z.string(),
});

const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 5_000;

export type AuthOptions = {
  adminToken: string;
  ingestToken: string;
  openWebUiUrl: string;
  logger: Logger;
  now?: () => number;
};

export type Authenticator = {
  authenticate: RequestHandler;
  /** Who a request's Bearer token belongs to; AppError 401 if nobody. */
  identify(req: IncomingMessage): Promise<Principal>;
  /** Drops cached Open WebUI identities (tests, key rotation). */
  clearCache(): void;
};

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return match?.[1]?.trim() || undefined;
}

export function createAuthenticator(options: AuthOptions): Authenticator {
  // Read the clock at each call (not a captured Date.now) so a replaced clock is honoured.
  const now = options.now ?? (() => Date.now());
  // Keyed by a hash of the token: the cache never holds a usable credential.
  const cache = new Map<string, { principal: Principal | null; expiresAt: number }>();

  async function lookUpOpenWebUi(token: string): Promise<Principal | null> {
    const key = sha256Hex(token);
    const cached = cache.get(key);
    if (cached && cached.expiresAt > now()) return cached.principal;
    let response: globalThis.Response;
    try {
      response = await fetch(`${options.openWebUiUrl}/api/v1/auths/`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(5_000),
      });
    } catch (error) {
      options.logger.warn({ err: error }, 'Open WebUI is unreachable for token check');
      throw new AppError(503, 'auth_unavailable', 'cannot verify the token: Open WebUI is unreachable');
    }
    let principal: Principal | null = null;
    if (response.ok) {
      const user = openWebUiUser.safeParse(await response.json().catch(() => null));
      if (user.success && (user.data.role === 'admin' || user.data.role === 'user')) {
        const { id: userId, email, name, role } = user.data;
        principal = { kind: role, userId, email, name };
      }
    } else if (response.status >= 500) {
      throw new AppError(503, 'auth_unavailable', `cannot verify the token: Open WebUI answered ${response.status}`);
    }
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value ?? '');
    cache.set(key, { principal, expiresAt: now() + (principal ? CACHE_TTL_MS : 5_000) });
    return principal;
  }

  // Hashed once here, and the caller's token once per request (ingest's hot path).
  const adminDigest = sha256(options.adminToken);
  const ingestDigest = sha256(options.ingestToken);

  async function identify(req: IncomingMessage): Promise<Principal> {
    const token = bearerToken(req);
    if (!token) throw new AppError(401, 'unauthorized', 'missing Authorization: Bearer token');
    const digest = sha256(token);
    if (timingSafeEqual(digest, ingestDigest)) return { kind: 'ingest' };
    if (timingSafeEqual(digest, adminDigest)) return { kind: 'operator' };
    const principal = await lookUpOpenWebUi(token);
    if (!principal) throw new AppError(401, 'unauthorized', 'invalid or expired token');
    return principal;
  }

  const authenticate: RequestHandler = async (req, res, next) => {
    res.locals.principal = await identify(req);
    next();
  };

  return { authenticate, identify, clearCache: () => cache.clear() };
}

/** Both sides are hashed, so comparing them in constant time does not leak the length either. */
function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new AppError(401, 'unauthorized', 'not authenticated');
  return principal;
}

/** Deny by default: a route lists the kinds of caller it serves. */
export function allow(...kinds: PrincipalKind[]): RequestHandler {
  return (_req, res, next) => {
    requireKind(principalOf(res), kinds);
    next();
  };
}

/** Throws 403 unless the caller is one of these kinds. */
export function requireKind(principal: Principal, kinds: readonly PrincipalKind[]): void {
  if (!kinds.includes(principal.kind)) {
    throw new AppError(403, 'forbidden', `this endpoint is not available to the ${principal.kind} role`);
  }
}
