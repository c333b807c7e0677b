import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configVariableNames, loadConfig } from '../../sidecar/src/config.js';
import { LOADER_FILE } from '../../sidecar/src/features/panel/panel.service.js';

/**
 * Docker cannot run here, so the deployment files are checked by reading them: every path,
 * port, variable and volume the compose override names must exist and match the sidecar.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

type Service = {
  image?: string;
  build?: { context: string; dockerfile: string };
  restart?: string;
  environment?: Record<string, string>;
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean; bind?: unknown })[];
  ports?: string[];
  healthcheck?: { test: string[] };
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };

const composeText = read('docker-compose.override.yml');
const compose = parse(composeText) as Compose;
const sidecar = compose.services['mai-usage']!;
const openWebUi = compose.services['open-webui']!;

const INTERPOLATION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;

/** Compose's `${VAR:-default}` with nothing set: the default; `${VAR:?…}` is required. */
function withDefaults(text: string): string {
  return text.replace(INTERPOLATION, (_match, _name: string, op: string | undefined, rest: string | undefined) =>
    op?.endsWith('-') ? (rest ?? '') : `<required>`,
  );
}

const interpolated = [...composeText.matchAll(INTERPOLATION)].map((match) => ({
  name: match[1]!,
  required: match[2]?.endsWith('?') ?? true,
}));

const envExample = new Map(
  read('.env.example')
    .split('\n')
    .filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
);

/** The Dockerfile as stages: FROM line and the instructions under it (continuations joined). */
function dockerfileStages(): { from: string; name: string; lines: string[] }[] {
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: { from: string; name: string; lines: string[] }[] = [];
  for (const line of lines) {
    if (line.startsWith('FROM ')) {
      stages.push({ from: line, name: /\sAS\s+(\S+)/i.exec(line)?.[1] ?? '', lines: [] });
    } else stages.at(-1)?.lines.push(line);
  }
  return stages;
}

describe('docker-compose.override.yml', () => {
  it('builds the sidecar from this repository and restarts it', () => {
    expect(sidecar.build).toBeDefined();
    const context = resolve(ROOT, withDefaults(sidecar.build!.context));
    expect(existsSync(context), context).toBe(true);
    expect(existsSync(join(context, sidecar.build!.dockerfile))).toBe(true);
    expect(context).toBe(ROOT);
    expect(sidecar.image).toBeTruthy();
    expect(sidecar.restart).toMatch(/^(always|unless-stopped)$/);
  });

  it('sets only variables the sidecar knows, and a valid configuration', () => {
    const environment = sidecar.environment!;
    for (const name of Object.keys(environment)) expect(configVariableNames, name).toContain(name);
    // The defaults, with sample values for the secrets the operator's .env supplies.
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(environment)) {
      const resolved = withDefaults(String(value));
      env[name] = resolved === '<required>' ? (envExample.get(name) ?? '') : resolved;
    }
    Object.assign(env, {
      INGEST_TOKEN: 'a'.repeat(32),
      ADMIN_TOKEN: 'b'.repeat(32),
      ENCRYPTION_KEY: 'c'.repeat(64),
    });
    const config = loadConfig(env);
    expect(config.database).toEqual({ client: 'sqlite', path: '/data/mai-usage.db' });
    expect(config.dataDir).toBe('/data');
    expect(config.backup.dir).toBe('/data/backups');
    expect(config.openWebUiUrl).toBe('http://open-webui:8080');
  });

  it('takes every secret from .env: required there, never written here', () => {
    for (const secret of ['INGEST_TOKEN', 'ADMIN_TOKEN', 'ENCRYPTION_KEY']) {
      expect(sidecar.environment![secret]).toMatch(new RegExp(`^\\$\\{${secret}:\\?`));
    }
    for (const optional of ['OPENWEBUI_ADMIN_API_KEY', 'OPENROUTER_API_KEY', 'OPENROUTER_PROVISIONING_KEY']) {
      expect(sidecar.environment![optional]).toBe(`\${${optional}:-}`);
    }
    // Every variable the file reads is in .env.example, which has no other.
    const used = new Set(interpolated.map((variable) => variable.name));
    for (const name of used) expect([...envExample.keys()], name).toContain(name);
    for (const name of envExample.keys()) expect([...used], name).toContain(name);
    for (const secret of ['INGEST_TOKEN', 'ADMIN_TOKEN', 'ENCRYPTION_KEY', 'OPENWEBUI_ADMIN_API_KEY']) {
      expect(envExample.get(secret), secret).toBe('');
    }
  });

  it('listens, publishes and health-checks on the same port, /healthz', () => {
    const port = Number(sidecar.environment!.PORT);
    expect(
      loadConfig({
        PORT: String(port),
        ENCRYPTION_KEY: 'c'.repeat(64),
        INGEST_TOKEN: 'a'.repeat(32),
        ADMIN_TOKEN: 'b'.repeat(32),
      }).port,
    ).toBe(port);
    expect(sidecar.ports).toHaveLength(1);
    const published = withDefaults(sidecar.ports![0]!).split(':');
    expect(published[0]).toBe('127.0.0.1');
    expect(Number(published.at(-1))).toBe(port);
    const check = sidecar.healthcheck!.test.join(' ');
    expect(check).toContain(`http://127.0.0.1:${port}/healthz`);
    expect(new URL(sidecar.environment!.FILTER_SIDECAR_URL!).port).toBe(String(port));
    expect(new URL(sidecar.environment!.FILTER_SIDECAR_URL!).hostname).toBe('mai-usage');
  });

  it('keeps the data in a declared named volume at the database directory', () => {
    const named = (sidecar.volumes ?? []).filter((v): v is string => typeof v === 'string');
    expect(named).toHaveLength(1);
    const [volume, target] = named[0]!.split(':');
    expect(Object.keys(compose.volumes ?? {})).toContain(volume);
    expect(target).toBe(posix.dirname(sidecar.environment!.DATABASE_PATH!));
    // Every named volume any service uses is declared.
    for (const service of Object.values(compose.services)) {
      for (const entry of service.volumes ?? []) {
        const source = typeof entry === 'string' ? entry.split(':')[0]! : entry.source;
        if (!source.startsWith('.') && !source.startsWith('/'))
          expect(Object.keys(compose.volumes ?? {})).toContain(source);
      }
    }
  });

  it("mounts the sidecar's loader over Open WebUI's, from a file the install step fetches", () => {
    const mount = (openWebUi.volumes ?? []).find(
      (v): v is Exclude<typeof v, string> => typeof v !== 'string' && v.target === '/app/build/static/loader.js',
    );
    expect(mount).toMatchObject({ type: 'bind', read_only: true, bind: { create_host_path: false } });
    // The file is not in the repository: it is fetched from the running sidecar, with the URL baked in.
    const file = posix.basename(mount!.source);
    const readme = read('README.md');
    const operations = readme.slice(readme.indexOf('## Operations'));
    expect(operations).toMatch(
      new RegExp(`/panel/${LOADER_FILE.replace('.', '\\.')}[^\\n]*-o ${file.replace('.', '\\.')}`),
    );
    expect(read('.dockerignore')).toContain(file);
    expect(openWebUi.environment).toMatchObject({ ENABLE_API_KEYS: 'true', ENABLE_API_OUTLET_FILTERS: 'true' });
  });

  it('every bind-mounted path exists or is created by the install steps', () => {
    for (const service of Object.values(compose.services)) {
      for (const entry of service.volumes ?? []) {
        const source = typeof entry === 'string' ? entry.split(':')[0]! : entry.source;
        if (!source.startsWith('.') && !source.startsWith('/')) continue;
        const path = resolve(ROOT, source);
        const fetched = read('README.md').includes(`-o ${posix.basename(source)}`);
        expect(existsSync(path) || fetched, source).toBe(true);
      }
    }
  });
});

describe('Dockerfile', () => {
  const stages = dockerfileStages();
  const final = stages.at(-1)!;

  it('is multi-stage on Node 20 and builds dist and the admin panel with npm run build', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.from).toMatch(/^FROM node:20[-.\w]*\s/);
    const build = stages.find((stage) => stage.lines.some((line) => line === 'RUN npm run build'));
    expect(build).toBeDefined();
    expect(build).not.toBe(final);
    const copies = final.lines.filter((line) => line.startsWith('COPY'));
    expect(copies).toContain(`COPY --from=${build!.name} /src/dist ./dist`);
    expect(copies).toContain(`COPY --from=${build!.name} /src/admin-panel/dist ./admin-panel/dist`);
  });

  it('ships production dependencies only, runs as a non-root user', () => {
    const deps = stages.find((stage) => stage.lines.some((line) => /npm ci .*--omit=dev/.test(line)));
    expect(deps).toBeDefined();
    expect(final.lines).toContain(`COPY --from=${deps!.name} /app/node_modules ./node_modules`);
    expect(final.lines.filter((line) => line.includes('node_modules'))).toHaveLength(1);
    expect(final.lines.some((line) => /^RUN npm (ci|install)/.test(line))).toBe(false);
    const user = final.lines.filter((line) => line.startsWith('USER '));
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^USER (root|0)(:|$)/);
  });

  it('keeps the database in the /data volume, health-checks /healthz and starts the sidecar', () => {
    expect(final.lines).toContain('VOLUME /data');
    expect(final.lines.some((line) => /^ENV .*DATABASE_PATH=\/data\/mai-usage\.db/.test(line))).toBe(true);
    const env = final.lines.find((line) => line.startsWith('ENV '))!;
    expect(env).toContain(`PORT=${sidecar.environment!.PORT}`);
    const healthcheck = final.lines.find((line) => line.startsWith('HEALTHCHECK'));
    expect(healthcheck).toMatch(/\/healthz/);
    expect(final.lines.some((line) => line === `EXPOSE ${sidecar.environment!.PORT}`)).toBe(true);
    const cmd = final.lines.find((line) => line.startsWith('CMD'))!;
    const entry = (JSON.parse(cmd.slice(4)) as string[]).find((part) => part.endsWith('.js'))!;
    // dist/<path>.js is built from <path>.ts.
    expect(existsSync(join(ROOT, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    // The container runs the sidecar with the node flags of `npm start`.
    const start = (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start;
    const startFlags = start.match(/--[\w-]+=\S+/g) ?? [];
    expect(startFlags.length).toBeGreaterThan(0);
    expect((JSON.parse(cmd.slice(4)) as string[]).filter((part) => part.startsWith('--'))).toEqual(startFlags);
  });

  it('copies only files that exist and that .dockerignore lets in', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const stage of stages) {
      for (const line of stage.lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
        const sources = line.split(/\s+/).slice(1, -1);
        for (const source of sources) {
          expect(existsSync(join(ROOT, source)), source).toBe(true);
          expect(ignored, source).not.toContain(source);
          expect(ignored, source).not.toContain(source.split('/')[0]);
        }
      }
    }
    for (const secret of ['.env', 'node_modules', 'data', '.git']) expect(ignored).toContain(secret);
  });
});
