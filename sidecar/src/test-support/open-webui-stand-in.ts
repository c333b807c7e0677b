import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the one Open WebUI endpoint the sidecar calls, GET /api/v1/auths/, answering
 * for the tokens a test registers. It counts calls so tests can see the sidecar's cache work.
 */
export type StandInUser = { id: string; email: string; name: string; role: 'admin' | 'user' | 'pending' };

export type OpenWebUiStandIn = {
  url: string;
  users: Map<string, StandInUser>;
  calls: number;
  /** Answer 500 to everything while true. */
  failing: boolean;
  close(): Promise<void>;
};

export async function startOpenWebUiStandIn(users: Record<string, StandInUser> = {}): Promise<OpenWebUiStandIn> {
  const standIn: Omit<OpenWebUiStandIn, 'url' | 'close'> = {
    users: new Map(Object.entries(users)),
    calls: 0,
    failing: false,
  };
  const server: Server = createServer((req, res) => {
    standIn.calls += 1;
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const user = token ? standIn.users.get(token) : undefined;
    res.setHeader('content-type', 'application/json');
    if (standIn.failing) return res.writeHead(500).end('{"detail":"boom"}');
    if (req.method !== 'GET' || req.url !== '/api/v1/auths/') return res.writeHead(404).end('{"detail":"Not Found"}');
    if (!user) return res.writeHead(401).end('{"detail":"Not authenticated"}');
    res.writeHead(200).end(JSON.stringify({ ...user, token_type: 'Bearer', profile_image_url: '' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(standIn, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
