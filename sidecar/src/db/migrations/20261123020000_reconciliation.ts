import type { Knex } from 'knex';

/** OpenRouter reconciliation, cost look-ups with backoff, and limit alerts. */
export async function up(knex: Knex): Promise<void> {
  // Pending costs being looked up at OpenRouter: backoff state per ledger event.
  await knex.schema.createTable('cost_lookups', (t) => {
    t.text('event_id').primary();
    t.integer('attempts').notNullable();
    t.text('next_attempt_at').notNullable();
    t.text('last_error');
    t.text('updated_at').notNullable();
  });

  // What OpenRouter says an org spent versus what our ledger holds; never usage itself.
  await knex.schema.createTable('reconciliations', (t) => {
    t.text('client_org_id').notNullable();
    t.text('kind').notNullable(); // key_daily | key_monthly | activity
    t.text('period').notNullable(); // UTC day or month
    t.text('model').notNullable(); // '' for whole-key figures
    t.bigInteger('openrouter_nano_usd').notNullable();
    t.bigInteger('ledger_nano_usd').notNullable();
    t.bigInteger('drift_nano_usd').notNullable();
    t.bigInteger('openrouter_requests');
    t.bigInteger('ledger_requests');
    t.text('checked_at').notNullable();
    t.primary(['client_org_id', 'kind', 'period', 'model']);
  });

  await knex.schema.createTable('limit_alerts', (t) => {
    t.bigIncrements('id');
    t.text('client_org_id').notNullable();
    t.text('user_id').notNullable(); // '' for the org's limit
    t.text('period').notNullable(); // billing month YYYY-MM
    t.integer('threshold_pct').notNullable();
    t.bigInteger('limit_nano_usd').notNullable();
    t.bigInteger('used_nano_usd').notNullable();
    t.text('created_at').notNullable();
    t.text('delivered_at');
    t.text('delivery_error');
    t.unique(['client_org_id', 'user_id', 'period', 'threshold_pct']);
  });

  // OpenRouter reports per UTC day: reconciliation sums the ledger by UTC instant.
  await knex.schema.alterTable('usage_events', (t) => {
    t.index(['client_org_id', 'occurred_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_events', (t) => {
    t.dropIndex(['client_org_id', 'occurred_at']);
  });
  await knex.schema.dropTableIfExists('limit_alerts');
  await knex.schema.dropTableIfExists('reconciliations');
  await knex.schema.dropTableIfExists('cost_lookups');
}
