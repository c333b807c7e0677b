import type { JobDeps } from '../deps.js';
import type { JobDefinition } from './scheduler.js';

/**
 * Every scheduled job, with when it runs. The one place to look for "what runs when".
 * (The OpenRouter sync, NBP rates, limit alerts and backups are added by their features.)
 */
export function jobDefinitions(_deps: JobDeps): JobDefinition[] {
  return [];
}
