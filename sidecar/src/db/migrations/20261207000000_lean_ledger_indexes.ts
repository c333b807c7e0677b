import type { Knex } from 'knex';

/**
 * Fewer index entries per ledger row. Every completion wrote five index entries; three of them
 * served rare reads and cost the write path about a third of its database time (each lands on
 * its own page, and every page a commit touches is written again to the WAL):
 *
 * - `generation_id` equals `event_id` whenever the generation id is known (DESIGN §3), so a look-up
 *   by generation id reads the unique `event_id` index; this index keeps only the rows where the
 *   two differ, which the ingest path never writes.
 * - `cost_status` is read only as `= 'pending'`: the cost sync's queue, oldest first. A partial index
 *   on `id` holds just those rows and leaves when the cost is filled.
 * - `(client_org_id, occurred_at)` served the reconciliation's sums per UTC day, which now read
 *   `(client_org_id, usage_day)` with the local days around the UTC range.
 *
 * Written out here rather than built from shared names, so this migration never changes after
 * it lands.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('usage_events', (t) => {
    t.dropIndex(['generation_id']);
    t.dropIndex(['cost_status']);
    t.dropIndex(['client_org_id', 'occurred_at']);
  });
  await knex.raw(
    'CREATE INDEX usage_events_generation_id_apart ON usage_events (generation_id) WHERE generation_id <> event_id',
  );
  await knex.raw("CREATE INDEX usage_events_pending_cost ON usage_events (id) WHERE cost_status = 'pending'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX usage_events_pending_cost');
  await knex.raw('DROP INDEX usage_events_generation_id_apart');
  await knex.schema.alterTable('usage_events', (t) => {
    t.index(['generation_id']);
    t.index(['cost_status']);
    t.index(['client_org_id', 'occurred_at']);
  });
}
