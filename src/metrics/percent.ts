/** A rate in a metric's words: 0.0735 → "7.4%", 1 → "100.0%" (one decimal, always shown). */
export function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

/** The same, without a trailing ".0": 1 → "100%", 0.0735 → "7.4%". */
export function shortPercent(rate: number): string {
  return `${Number((rate * 100).toFixed(1))}%`;
}
