import type { Knex } from 'knex';

/**
 * The baseline schema. Timestamps are UTC ISO-8601 text and days 'YYYY-MM-DD' text in the
 * billing time zone, so both databases sort and compare them the same way. Money is bigint
 * nano-USD; rates are bigint parts per million.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('global_settings', (t) => {
    t.integer('id').primary(); // always 1: a singleton
    t.text('openrouter_provisioning_key_encrypted');
    t.text('openrouter_provisioning_key_label');
    t.bigInteger('default_markup_rate_ppm');
    t.text('billing_currency');
    t.text('updated_at').notNullable();
  });

  await knex.schema.createTable('client_organizations', (t) => {
    t.text('id').primary();
    t.text('instance_id').notNullable();
    t.text('name').notNullable();
    t.boolean('is_default').notNullable().defaultTo(false);
    t.boolean('active').notNullable().defaultTo(true);
    t.bigInteger('markup_rate_ppm').notNullable();
    t.bigInteger('monthly_limit_nano_usd');
    t.text('billing_contact_name');
    t.text('billing_contact_email');
    t.text('openrouter_key_encrypted');
    t.text('openrouter_key_sha256');
    t.text('openrouter_key_label');
    t.text('openrouter_key_hash'); // OpenRouter's own id for a provisioned key
    t.text('created_at').notNullable();
    t.text('updated_at').notNullable();
    t.index(['instance_id', 'active']);
    t.unique(['openrouter_key_sha256']);
  });

  await knex.schema.createTable('user_client_mappings', (t) => {
    t.text('instance_id').notNullable();
    t.text('user_id').notNullable();
    t.text('client_org_id').notNullable().references('id').inTable('client_organizations');
    t.text('openrouter_user_id');
    t.text('user_email');
    t.text('user_name');
    t.boolean('active').notNullable().defaultTo(true);
    t.bigInteger('monthly_limit_nano_usd');
    t.text('source').notNullable(); // learned | manual
    t.text('created_at').notNullable();
    t.text('updated_at').notNullable();
    t.primary(['instance_id', 'user_id']);
    t.index(['client_org_id']);
    t.index(['openrouter_user_id']);
  });

  await knex.schema.createTable('usage_events', (t) => {
    t.bigIncrements('id');
    t.text('event_id').notNullable().unique();
    t.text('source').notNullable(); // filter | webhook | manual | sync
    t.text('client_org_id').notNullable();
    t.text('user_id').notNullable(); // '' when no user is known (manual, webhook without user)
    t.text('model').notNullable();
    t.text('channel').notNullable(); // ui | api | webhook | manual | sync
    t.text('occurred_at').notNullable();
    t.text('usage_day').notNullable();
    t.bigInteger('input_tokens').notNullable();
    t.bigInteger('output_tokens').notNullable();
    t.bigInteger('cached_tokens').notNullable().defaultTo(0);
    t.bigInteger('reasoning_tokens').notNullable().defaultTo(0);
    t.text('cost_status').notNullable(); // reported | pending | reconciled | estimated | manual
    t.bigInteger('provider_cost_nano_usd'); // as the provider reported it, if it did
    t.bigInteger('upstream_cost_nano_usd');
    t.boolean('is_byok').notNullable().defaultTo(false);
    t.bigInteger('raw_cost_nano_usd').notNullable();
    t.bigInteger('markup_rate_ppm').notNullable();
    t.bigInteger('billed_cost_nano_usd').notNullable();
    t.text('generation_id');
    t.text('chat_id');
    t.text('message_id');
    t.text('external_user');
    t.text('reason');
    t.text('recorded_at').notNullable();
    t.index(['client_org_id', 'usage_day']);
    t.index(['generation_id']);
    t.index(['cost_status']);
  });

  await knex.schema.createTable('usage_daily', (t) => {
    t.text('client_org_id').notNullable();
    t.text('usage_day').notNullable();
    t.text('user_id').notNullable();
    t.text('model').notNullable();
    t.bigInteger('requests').notNullable();
    t.bigInteger('input_tokens').notNullable();
    t.bigInteger('output_tokens').notNullable();
    t.bigInteger('cached_tokens').notNullable();
    t.bigInteger('reasoning_tokens').notNullable();
    t.bigInteger('raw_cost_nano_usd').notNullable();
    t.bigInteger('billed_cost_nano_usd').notNullable();
    t.bigInteger('pending_cost_requests').notNullable();
    t.text('updated_at').notNullable();
    t.primary(['client_org_id', 'usage_day', 'user_id', 'model']);
    t.index(['usage_day']);
  });

  // Streams the filter saw start; a later job bills the ones that never completed (aborted).
  await knex.schema.createTable('generation_starts', (t) => {
    t.text('generation_id').primary();
    t.text('event_id').notNullable();
    t.text('client_org_id').notNullable();
    t.text('user_id').notNullable();
    t.text('model').notNullable();
    t.text('channel').notNullable();
    t.text('chat_id');
    t.text('message_id');
    t.text('started_at').notNullable();
    t.text('recorded_at').notNullable();
    t.text('resolved_at');
    t.text('resolution');
  });

  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id');
    t.text('at').notNullable();
    t.text('actor').notNullable();
    t.text('action').notNullable();
    t.text('target_type').notNullable();
    t.text('target_id');
    t.text('details'); // JSON, secrets removed
    t.text('request_id');
    t.index(['target_type', 'target_id']);
  });

  // Ops views named like the tables of the system this replaces; all read the one rollup.
  await knex.raw(`CREATE VIEW client_daily_usage AS
    SELECT client_org_id, usage_day, SUM(requests) AS total_requests,
      SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,
      SUM(input_tokens + output_tokens) AS total_tokens,
      SUM(raw_cost_nano_usd) AS raw_cost_nano_usd, SUM(billed_cost_nano_usd) AS billed_cost_nano_usd
    FROM usage_daily GROUP BY client_org_id, usage_day`);
  await knex.raw(`CREATE VIEW client_user_daily_usage AS
    SELECT client_org_id, user_id, usage_day, SUM(requests) AS total_requests,
      SUM(input_tokens + output_tokens) AS total_tokens,
      SUM(raw_cost_nano_usd) AS raw_cost_nano_usd, SUM(billed_cost_nano_usd) AS billed_cost_nano_usd
    FROM usage_daily GROUP BY client_org_id, user_id, usage_day`);
  await knex.raw(`CREATE VIEW client_model_daily_usage AS
    SELECT client_org_id, model, usage_day, SUM(requests) AS total_requests,
      SUM(input_tokens + output_tokens) AS total_tokens,
      SUM(raw_cost_nano_usd) AS raw_cost_nano_usd, SUM(billed_cost_nano_usd) AS billed_cost_nano_usd
    FROM usage_daily GROUP BY client_org_id, model, usage_day`);
}

export async function down(knex: Knex): Promise<void> {
  for (const view of ['client_model_daily_usage', 'client_user_daily_usage', 'client_daily_usage']) {
    await knex.raw(`DROP VIEW IF EXISTS ${view}`);
  }
  for (const table of [
    'audit_log',
    'generation_starts',
    'usage_daily',
    'usage_events',
    'user_client_mappings',
    'client_organizations',
    'global_settings',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
