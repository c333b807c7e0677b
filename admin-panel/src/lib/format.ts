/**
 * Money and number formatting. Amounts come from the API as exact nano-USD strings and are
 * formatted with BigInt so the panel never shows a float artefact ($0.30000000000000004).
 */

const NANO_PER_CENT = 10_000_000n;
const NANO_PER_MICRO = 1_000n;

/** Rounds a non-negative integer division half up. */
function divRoundHalfUp(value: bigint, by: bigint): bigint {
  return (value + by / 2n) / by;
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * USD from nano-USD: "$1,234.56"; six decimals below one cent ("$0.002002"), as the seeds show.
 * Accepts the API's nano string (or a bigint); anything unparsable renders as "—".
 */
export function formatUsdNano(nano: string | bigint | null | undefined): string {
  let value: bigint;
  try {
    if (nano === null || nano === undefined || nano === '') return '—';
    value = typeof nano === 'bigint' ? nano : BigInt(nano);
  } catch {
    return '—';
  }
  const sign = value < 0n ? '-' : '';
  const abs = value < 0n ? -value : value;
  if (abs !== 0n && abs < NANO_PER_CENT) {
    const micros = divRoundHalfUp(abs, NANO_PER_MICRO);
    return `${sign}$${micros / 1_000_000n}.${(micros % 1_000_000n).toString().padStart(6, '0')}`;
  }
  const cents = divRoundHalfUp(abs, NANO_PER_CENT);
  return `${sign}$${groupThousands((cents / 100n).toString())}.${(cents % 100n).toString().padStart(2, '0')}`;
}

/** USD from a display number (used only where the API gives no nano string, e.g. limits). */
export function formatUsdNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return formatUsdNano(BigInt(Math.round(value * 1e9)));
}

const plnFormat = new Intl.NumberFormat('pl-PL', { style: 'currency', currency: 'PLN', minimumFractionDigits: 2 });
const plnSmallFormat = new Intl.NumberFormat('pl-PL', {
  style: 'currency',
  currency: 'PLN',
  minimumFractionDigits: 6,
  maximumFractionDigits: 6,
});

/**
 * PLN the Polish way: "50,00 zł"; six decimals below one grosz, like USD. Takes exact decimal
 * text ("50.15", from the API's grosz) or a number.
 */
export function formatPln(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') {
    if (!/^-?\d+(\.\d+)?$/.test(value)) return '—';
    // Intl formats decimal strings exactly (no float in between).
    return plnFormat.format(value as unknown as number);
  }
  if (!Number.isFinite(value)) return '—';
  return Math.abs(value) > 0 && Math.abs(value) < 0.01 ? plnSmallFormat.format(value) : plnFormat.format(value);
}

/** "$12.50 (50,00 zł)" when a PLN figure is present, else the USD alone. */
export function formatUsdWithPln(nano: string | undefined, pln: string | number | null | undefined): string {
  const usd = formatUsdNano(nano);
  return pln === null || pln === undefined ? usd : `${usd} (${formatPln(pln)})`;
}

/** Token and request counts with thousands separators: 1,751 (en) / 1 751 (pl). */
export function formatCount(value: number | null | undefined, lang: string): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return new Intl.NumberFormat(lang === 'pl' ? 'pl-PL' : 'en-US', { useGrouping: 'always' }).format(value);
}

export function formatPercent(value: number | null | undefined, lang: string): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${new Intl.NumberFormat(lang === 'pl' ? 'pl-PL' : 'en-US', { maximumFractionDigits: 2 }).format(value)}%`;
}

export function formatTime(at: Date, lang: string): string {
  return at.toLocaleTimeString(lang === 'pl' ? 'pl-PL' : 'en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** "4.0123" — NBP publishes four decimals. */
export function formatRate(rate: number): string {
  return rate.toFixed(4);
}
