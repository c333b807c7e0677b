import autocannon from 'autocannon';

export type LoadResult = {
  connections: number;
  seconds: number;
  requests: number;
  req_per_s: number;
  events_per_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  non_2xx: number;
  errors: number;
};

/** Value at quantile q of ascending-sorted samples (nearest rank). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * POSTs bodies made by `body()` at a fixed concurrency for `seconds`, with autocannon. Latencies
 * are taken from autocannon's per-response times (sub-millisecond), not its 1 ms histogram.
 */
export async function postLoad(options: {
  url: string;
  token?: string;
  connections: number;
  seconds: number;
  eventsPerRequest: number;
  body: () => string;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let finish: (error: unknown, result?: autocannon.Result) => void = () => undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) =>
      error || !result ? reject(error ?? new Error('autocannon gave no result')) : resolve(result);
  });
  const instance = autocannon(
    {
      url: options.url,
      connections: options.connections,
      duration: options.seconds,
      timeout: 30,
      requests: [
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          },
          setupRequest: (request) => ({ ...request, body: options.body() }),
        },
      ],
    },
    (error, result) => finish(error, result),
  );
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await done;
  const sorted = Float64Array.from(latencies).sort();
  const ok = result['2xx'];
  return {
    connections: options.connections,
    seconds: round(result.duration),
    requests: ok,
    req_per_s: Math.round(ok / result.duration),
    events_per_s: Math.round((ok * options.eventsPerRequest) / result.duration),
    p50_ms: round(percentile(sorted, 0.5)),
    p99_ms: round(percentile(sorted, 0.99)),
    max_ms: round(sorted.length > 0 ? sorted[sorted.length - 1]! : NaN),
    non_2xx: result.non2xx,
    errors: result.errors,
  };
}
