import type { Knex } from 'knex';

/** Whether an Open WebUI admin may set the markup of its instance's orgs (the operator decides). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('global_settings', (t) => {
    t.boolean('admin_may_set_markup').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('global_settings', (t) => {
    t.dropColumn('admin_may_set_markup');
  });
}
