/**
 * Creates (or reuses) the Python virtual environment holding the pinned Open WebUI, cached
 * outside the clone. PyTorch's CPU build is installed first from the wheel on this machine's
 * disk (`torch==2.13.0`); asking for plain `torch` would pull a multi-GB CUDA build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const OPEN_WEBUI_VERSION = '0.12.4';
export const TORCH_VERSION = '2.13.0';

export const VENV_DIR =
  process.env.MAI_USAGE_OPENWEBUI_VENV ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'mai-usage', 'openwebui-venv');

function run(command: string, args: string[]): void {
  console.log(`[venv] ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed with exit code ${result.status}`);
  }
}

/** Returns the path of the `python` inside a venv holding open-webui==OPEN_WEBUI_VERSION. */
export function ensureOpenWebUIVenv(): string {
  const python = join(VENV_DIR, 'bin', 'python');
  const marker = join(VENV_DIR, '.mai-usage-installed');
  const wanted = `open-webui==${OPEN_WEBUI_VERSION} torch==${TORCH_VERSION}`;
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === wanted && existsSync(python)) {
    return python;
  }
  mkdirSync(VENV_DIR, { recursive: true });
  if (!existsSync(python)) run(process.env.PYTHON ?? 'python3', ['-m', 'venv', VENV_DIR]);
  const pip = join(VENV_DIR, 'bin', 'pip');
  run(pip, ['install', '--quiet', `torch==${TORCH_VERSION}`]);
  run(pip, ['install', '--quiet', `open-webui==${OPEN_WEBUI_VERSION}`]);
  const check = spawnSync(python, ['-c', 'import importlib.metadata as m; print(m.version("open-webui"))'], {
    encoding: 'utf8',
  });
  if (check.stdout.trim() !== OPEN_WEBUI_VERSION) {
    throw new Error(
      `open-webui ${OPEN_WEBUI_VERSION} expected in ${VENV_DIR}, found ${check.stdout.trim() || check.stderr}`,
    );
  }
  writeFileSync(marker, `${wanted}\n`);
  return python;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(ensureOpenWebUIVenv());
}
