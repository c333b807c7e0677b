import { Router, type Request } from 'express';
import { orgContext, type AppDeps } from '../../deps.js';
import { allow, principalOf } from '../../http/auth.js';
import { readLedgerValues, totalUsage } from './usage.store.js';
import { billingQuery, clientIdParam, clientQuery, exportQuery, periodQuery } from './usage.schema.js';
import { billingStatementCsv, csvRecord, exportCsvLine } from './usage.csv.js';
import { displayRateInfo } from './usage.pln.js';
import {
  billingStatement,
  billingView,
  currentPeriod,
  exportCells,
  exportRow,
  myOrganizationUsage,
  reportScope,
  totalsView,
  usageByModel,
  usageByUser,
  usageSummary,
  usageToday,
  type UsageContext,
} from './usage.service.js';

/** The seeds' usage routes under /client_organizations/usage. */
export function createUsageRouter(deps: AppDeps): Router {
  const router = Router();
  const manage = allow('operator', 'admin');
  const signedIn = allow('operator', 'admin', 'user');
  const context = (req: Request): UsageContext => ({
    ...orgContext(deps, req),
    timeZone: deps.config.billingTimeZone,
    exchangeRates: deps.exchangeRates,
  });

  router.get('/summary', manage, async (req, res) => {
    res.json(await usageSummary(context(req), principalOf(res), clientQuery.parse(req.query).client_id));
  });

  router.get('/today', manage, async (req, res) => {
    res.json(await usageToday(context(req), principalOf(res), clientQuery.parse(req.query).client_id));
  });

  router.get('/billing', manage, async (req, res) => {
    const principal = principalOf(res);
    const { month, format, dialect } = billingQuery.parse(req.query);
    const statement = await billingStatement(context(req), principal, month);
    if (format === 'csv') {
      const name = `mai-usage_billing_${statement.month}${dialect === 'pl' ? '_pl' : ''}.csv`;
      res.type('text/csv; charset=utf-8').attachment(name);
      res.send(billingStatementCsv(statement, principal, dialect));
      return;
    }
    res.json(billingView(statement, principal));
  });

  router.get('/by-user/:client_id', manage, async (req, res) => {
    const ctx = context(req);
    const period = currentPeriod(ctx, periodQuery.parse(req.query));
    res.json(await usageByUser(ctx, principalOf(res), clientIdParam.parse(req.params).client_id, period));
  });

  router.get('/by-model/:client_id', manage, async (req, res) => {
    const ctx = context(req);
    const period = currentPeriod(ctx, periodQuery.parse(req.query));
    res.json(await usageByModel(ctx, principalOf(res), clientIdParam.parse(req.params).client_id, period));
  });

  // Ledger rows, streamed a page at a time so a year of events never sits in memory.
  router.get('/export', manage, async (req, res) => {
    const ctx = context(req);
    const principal = principalOf(res);
    const { format, client_id } = exportQuery.parse(req.query);
    const period = currentPeriod(ctx, periodQuery.parse(req.query));
    const orgs = await reportScope(ctx, principal, client_id);
    const filter = { clientOrgIds: orgs.map((org) => org.id), ...period };
    const name = `mai-usage_${client_id ?? 'all'}_${period.from}_${period.to}`;
    if (format === 'csv') {
      res.type('text/csv; charset=utf-8').attachment(`${name}.csv`);
      const cells = exportCells(principal);
      const line = exportCsvLine(cells);
      res.write(csvRecord(cells.map((cell) => cell.name)));
      for await (const page of readLedgerValues(ctx.db, filter)) res.write(page.map(line).join(''));
      res.end();
      return;
    }
    res.type('application/json').attachment(`${name}.json`);
    res.write(
      `{"success":true,"period":${JSON.stringify(period)},"client_org_ids":${JSON.stringify(filter.clientOrgIds)},"events":[`,
    );
    let separator = '';
    for await (const page of readLedgerValues(ctx.db, filter)) {
      res.write(separator + page.map((values) => JSON.stringify(exportRow(values, principal))).join(','));
      separator = ',';
    }
    const rate = await ctx.exchangeRates.displayRate();
    const totals = totalsView(await totalUsage(ctx.db, filter), principal, rate);
    res.end(`],"totals":${JSON.stringify(totals)},"exchange_rate_info":${JSON.stringify(displayRateInfo(rate))}}`);
  });

  router.get('/my-organization', signedIn, async (req, res) => {
    res.json(await myOrganizationUsage(context(req), principalOf(res)));
  });

  router.get('/my-organization/today', signedIn, async (req, res) => {
    const summary = await myOrganizationUsage(context(req), principalOf(res));
    res.json({
      success: true,
      client_org_id: summary.client_org_id,
      client_name: summary.client_name,
      currency: summary.currency,
      today: summary.stats.today,
      me: { user_id: summary.stats.me.user_id, today: summary.stats.me.today },
      exchange_rate_info: summary.stats.exchange_rate_info,
    });
  });

  return router;
}
