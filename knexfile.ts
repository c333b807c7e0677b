/**
 * For the Knex CLI (`npm run knex -- migrate:status`). The sidecar migrates itself at start; this
 * reads the same environment (DATABASE_PATH / DATABASE_URL) and the same migration list.
 */
import { loadConfig } from './sidecar/src/config.js';
import { knexConfig } from './sidecar/src/db/knex.js';

export default knexConfig(loadConfig().database);
