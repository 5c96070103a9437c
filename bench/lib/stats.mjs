// Summaries of samples: median with min/max and n. No means: one slow outlier must not move the headline.

export function summarize(samples) {
  const xs = samples.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  const n = xs.length;
  if (n === 0) return { n: 0, median: null, min: null, max: null, samples: [] };
  const median = n % 2 ? xs[(n - 1) / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
  return { n, median: round(median), min: round(xs[0]), max: round(xs[n - 1]), samples: samples.map(round) };
}

export function round(x, digits = 4) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return x;
  if (x === 0) return 0;
  const mag = Math.floor(Math.log10(Math.abs(x)));
  const scale = 10 ** Math.max(0, digits - 1 - mag);
  return Math.round(x * scale) / scale;
}

export function ratio(a, b) {
  if (a == null || b == null || b === 0) return null;
  return round(a / b, 3);
}

/** Round-robin order for round r: the same peers, the starting one rotated so no peer always runs first. */
export function rotate(list, r) {
  if (list.length === 0) return list;
  const k = r % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** A ratio against its limit as text: two decimals, more while they would print the limit itself (1.2504x is not 1.25x). */
export function ratioText(x, limit) {
  let digits = 2;
  while (digits < 6 && x !== limit && x.toFixed(digits) === limit.toFixed(digits)) digits++;
  return x.toFixed(digits);
}
