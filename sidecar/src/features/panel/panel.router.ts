import { Router, type Request, type Response } from 'express';
import {
  BUNDLE_FILE,
  bakeLoader,
  createAssetReader,
  defaultPanelDistDir,
  etagOf,
  LOADER_FILE,
  operatorPageHtml,
} from './panel.service.js';

export type PanelRouterOptions = {
  /**
   * The URL browsers reach the sidecar at (PUBLIC_SIDECAR_URL); baked into loader.js. Without
   * it, the URL the loader was requested from is used.
   */
  publicSidecarUrl?: string | undefined;
  /** Where the built panel is; default admin-panel/dist. */
  distDir?: string;
};

const JS = 'text/javascript; charset=utf-8';

/**
 * Serves the admin panel: the bundle, the loader Open WebUI mounts, and the operator's page at
 * `/`. No authentication: these are public static files; every figure they show comes from the
 * authenticated API.
 */
export function createPanelRouter(options: PanelRouterOptions = {}): Router {
  const router = Router();
  const read = createAssetReader(options.distDir ?? defaultPanelDistDir());
  const html = operatorPageHtml();
  const htmlEtag = etagOf(html);

  const notBuilt = (res: Response) =>
    res.status(503).json({
      error: { code: 'panel_not_built', message: 'the admin panel is not built: run `npm run build:panel`' },
    });

  /** Sends with a content ETag; the browser revalidates every time (no-cache) and gets 304s. */
  const send = (req: Request, res: Response, type: string, body: Buffer | string, etag: string) => {
    res.set({
      'content-type': type,
      'cache-control': 'no-cache',
      etag,
      'x-content-type-options': 'nosniff',
    });
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    res.send(body);
  };

  router.get(`/panel/${BUNDLE_FILE}`, (req, res) => {
    const bundle = read(BUNDLE_FILE);
    if (!bundle) return notBuilt(res);
    // Open WebUI's page imports the module from another origin: module scripts need CORS.
    res.set('access-control-allow-origin', '*');
    send(req, res, JS, bundle.body, bundle.etag);
  });

  router.get(`/panel/${LOADER_FILE}`, (req, res) => {
    const template = read(LOADER_FILE);
    if (!template) return notBuilt(res);
    const sidecarUrl = options.publicSidecarUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    const body = bakeLoader(template.body, sidecarUrl);
    res.set('access-control-allow-origin', '*');
    send(req, res, JS, body, etagOf(body));
  });

  router.get('/', (req, res) => {
    res.set('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    send(req, res, 'text/html; charset=utf-8', html, htmlEtag);
  });

  return router;
}
