#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { installFilter } from './features/filter-install/filter-install.service.js';

/**
 * `mai-usage <command>`: operator tasks run beside the sidecar, reading the same environment.
 * Exit codes: 0 done, 1 failed, 2 bad usage, 78 bad configuration.
 */

const usage = `Usage: mai-usage <command> [options]

Commands:
  install-filter   Create or update the mai-usage filter in Open WebUI, make it active and
                   global, and set its valves (sidecar URL, ingest token). Idempotent.
                   Needs OPENWEBUI_URL and OPENWEBUI_ADMIN_API_KEY (an admin's API key).
      --sidecar-url URL    the sidecar as Open WebUI reaches it (default FILTER_SIDECAR_URL)
      --valve NAME=VALUE   set another valve; repeatable (numbers and true/false are typed)

Options:
  -h, --help       Show this help.
`;

function valveValue(text: string): unknown {
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

async function installFilterCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'sidecar-url': { type: 'string' },
      valve: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const config = loadConfig();
  if (!config.openWebUiAdminApiKey) {
    process.stderr.write('install-filter: set OPENWEBUI_ADMIN_API_KEY to an Open WebUI admin API key\n');
    return 2;
  }
  const valves: Record<string, unknown> = {
    sidecar_url: values['sidecar-url'] ?? config.filterSidecarUrl,
    ingest_token: config.ingestToken,
  };
  for (const pair of values.valve ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) {
      process.stderr.write(`install-filter: --valve expects NAME=VALUE, got ${JSON.stringify(pair)}\n`);
      return 2;
    }
    valves[pair.slice(0, at)] = valveValue(pair.slice(at + 1));
  }
  const result = await installFilter({
    openWebUiUrl: config.openWebUiUrl,
    apiKey: config.openWebUiAdminApiKey,
    valves,
  });
  process.stdout.write(
    `mai-usage filter ${result.action} in ${config.openWebUiUrl} (id ${result.id}); ` +
      `${result.toggled.length > 0 ? `turned on: ${result.toggled.join(', ')}` : 'already active and global'}; ` +
      `valves set: ${result.valves.join(', ')}\n`,
  );
  return 0;
}

const commands: Record<string, (args: string[]) => Promise<number>> = {
  'install-filter': installFilterCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help') {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`mai-usage: unknown command ${JSON.stringify(name)}\n\n${usage}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 78;
    }
    const code = (error as { code?: unknown }).code;
    const badUsage = typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
    const cause = (error as { cause?: unknown }).cause;
    const detail = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${name}: ${detail}${cause instanceof Error ? ` (${cause.message})` : ''}\n`);
    return badUsage ? 2 : 1;
  }
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
