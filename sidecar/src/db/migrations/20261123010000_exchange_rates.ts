import type { Knex } from 'knex';

/**
 * NBP exchange rates as published: one row per (table, currency, effective date). Rates are
 * exact decimal text as NBP wrote them ("3.7675"); table C carries bid and ask, table A mid.
 * fetched_at is when NBP last confirmed the row, which is what the display cache ages by.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('exchange_rates', (t) => {
    t.text('nbp_table').notNullable(); // 'A' | 'C'
    t.text('currency').notNullable(); // 'USD'
    t.text('effective_date').notNullable();
    t.text('table_no').notNullable(); // e.g. '064/C/NBP/2016'
    t.text('bid');
    t.text('ask');
    t.text('mid');
    t.text('fetched_at').notNullable();
    t.primary(['nbp_table', 'currency', 'effective_date']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('exchange_rates');
}
