import type { Principal } from '../../http/auth.js';
import { formatMarkupRate, nanoToUsdString } from '../../lib/money.js';
import { formatPln, formatRate } from '../exchange-rates/pln.js';
import { statementRateMissing } from './usage.pln.js';
import { limitUsedPct, type BillingStatement, type ExportCell } from './usage.service.js';
import type { Totals } from './usage.store.js';

/**
 * The billing statement as CSV, one line per org per day with usage, a total line per org and a
 * grand total. Two dialects of the same columns:
 * - `rfc4180`: comma, `.` decimals, CRLF;
 * - `pl`: what Polish Excel opens by double-click — `;` (its list separator), decimal commas,
 *   UTF-8 with a BOM (else it reads the file as Windows-1250), CRLF.
 * Amounts are exact decimal text, never rounded floats: USD to the nano-USD, PLN to the grosz.
 */

export type CsvDialect = 'rfc4180' | 'pl';

type Cell = string | number | null;

/** Names are typed by org admins; one starting like a formula is kept as text in a spreadsheet. */
const asText = (value: string) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);

export function billingStatementCsv(statement: BillingStatement, principal: Principal, dialect: CsvDialect): string {
  const operator = principal.kind === 'operator';
  const decimal = (text: string | null) => (text === null ? '' : dialect === 'pl' ? text.replace('.', ',') : text);
  const usd = (nano: bigint) => decimal(nanoToUsdString(nano));
  const pln = (grosz: bigint | null) => decimal(grosz === null ? null : formatPln(grosz));

  const columns = [
    'line',
    'client_org_id',
    'client_name',
    'date',
    'requests',
    'input_tokens',
    'output_tokens',
    'tokens',
    ...(operator ? ['raw_cost_usd', 'markup_rate'] : []),
    'cost_usd',
    ...(operator ? ['profit_usd'] : []),
    'cost_pln',
    'rate_source',
    'rate_usd_pln',
    'rate_table_no',
    'rate_effective_date',
    'monthly_limit_usd',
    'limit_used_pct',
    'note',
  ];

  // Events carry the markup in force when they happened, so only org lines show the org's current one.
  const figures = (totals: Totals, markupPpm: bigint | null): Cell[] => [
    Number(totals.requests),
    Number(totals.inputTokens),
    Number(totals.outputTokens),
    Number(totals.inputTokens + totals.outputTokens),
    ...(operator ? [usd(totals.rawCostNanoUsd), markupPpm === null ? '' : decimal(formatMarkupRate(markupPpm))] : []),
    usd(totals.billedCostNanoUsd),
    ...(operator ? [usd(totals.billedCostNanoUsd - totals.rawCostNanoUsd)] : []),
  ];
  const incomplete = (days: string[]) =>
    days.length === 0 ? 'sum of the day lines' : `incomplete: no NBP Table A rate for ${days.join(', ')}`;

  const records: Cell[][] = [];
  for (const line of statement.orgs) {
    const { org } = line;
    for (const day of line.days) {
      records.push([
        'day',
        org.id,
        asText(org.name),
        day.date,
        ...figures(day.totals, null),
        pln(day.plnGrosz),
        day.rate?.source ?? '',
        day.rate ? decimal(formatRate(day.rate.usdPln)) : '',
        day.rate?.tableNo ?? '',
        day.rate?.effectiveDate ?? '',
        '',
        '',
        day.rate ? '' : statementRateMissing(day.date),
      ]);
    }
    const pct = limitUsedPct(line.totals.billedCostNanoUsd, org.monthlyLimitNanoUsd);
    records.push([
      'client_total',
      org.id,
      asText(org.name),
      statement.month,
      ...figures(line.totals, org.markupRatePpm),
      pln(line.plnGrosz),
      'NBP Table A (per day)',
      '',
      '',
      '',
      org.monthlyLimitNanoUsd === null ? '' : usd(org.monthlyLimitNanoUsd),
      pct === null ? '' : decimal(String(pct)),
      incomplete(line.daysWithoutRate),
    ]);
  }
  records.push([
    'total',
    '',
    '',
    statement.month,
    ...figures(statement.totals, null),
    pln(statement.plnGrosz),
    'NBP Table A (per day)',
    '',
    '',
    '',
    '',
    '',
    incomplete(statement.daysWithoutRate),
  ]);

  const delimiter = dialect === 'pl' ? ';' : ',';
  // The BOM tells Polish Excel the file is UTF-8.
  return (dialect === 'pl' ? '\uFEFF' : '') + [columns, ...records].map((r) => csvRecord(r, delimiter)).join('');
}

const NEEDS_QUOTES = { ',': /[",\r\n]/, ';': /[";\r\n]/ };

/**
 * A text field of an RFC 4180 record: quoted (inner quotes doubled) only when it holds the
 * delimiter, a quote or a line break.
 */
function csvText(text: string, delimiter: ',' | ';'): string {
  return NEEDS_QUOTES[delimiter].test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * One RFC 4180 record with its CRLF: text as csvText writes it, null empty. Written out because
 * exports stream tens of thousands of rows and this is several times faster than a general CSV
 * library.
 */
export function csvRecord(fields: readonly unknown[], delimiter: ',' | ';' = ','): string {
  // Joined from an array: building the line by `+=` costs twice as much.
  const cells = new Array<string>(fields.length);
  for (let i = 0; i < fields.length; i += 1) cells[i] = csvCell(fields[i], delimiter);
  return `${cells.join(delimiter)}\r\n`;
}

function csvCell(field: unknown, delimiter: ',' | ';'): string {
  // Only text can hold a delimiter, a quote or a line break; numbers and booleans never do.
  return typeof field === 'string' ? csvText(field, delimiter) : plainCell(field);
}

const plainCell = (field: unknown) => (field === null || field === undefined ? '' : String(field));

/**
 * The export's CSV line of a ledger row, the text csvRecord writes of its exported values. Built
 * once per export: it reads each value straight from the row and checks only text columns for
 * quoting, about a third less work than collecting each row's values first.
 */
export function exportCsvLine(cells: readonly ExportCell[]): (values: readonly unknown[]) => string {
  const write = cells.map(({ index, value, text }) =>
    text
      ? (values: readonly unknown[]) => csvCell(value(values[index]), ',')
      : (values: readonly unknown[]) => plainCell(value(values[index])),
  );
  return (values) => {
    const line = new Array<string>(write.length);
    for (let i = 0; i < write.length; i += 1) line[i] = write[i]!(values);
    return `${line.join(',')}\r\n`;
  };
}
