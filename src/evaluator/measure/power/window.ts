/**
 * The arithmetic of a power measurement, without I/O: a meter's readings are cumulative joules
 * at times on one monotonic clock (seconds), and everything graded is cut out of them by window.
 * The idle window comes before the run; the loaded window starts after the ramp (power rises
 * over about a second once inferences start, so the first second describes the ramp, not the
 * model); attributed power is loaded − idle, read by the same meter.
 */

/** Cumulative energy the meter has seen since it started, at `seconds` on the shared clock. */
export interface Reading {
  seconds: number;
  joules: number;
}

export interface Window {
  from: number;
  to: number;
}

export interface WindowPower {
  /** Energy in the window ÷ its length. */
  watts: number;
  /** Of `watts`, from the spread of the readings (see `windowPower`). */
  standardError: number;
  /** Reading intervals inside the window. */
  intervals: number;
}

/** Cumulative joules at `seconds`, linear between readings, held flat outside them. */
export function joulesAt(readings: readonly Reading[], seconds: number): number {
  if (readings.length === 0) throw new Error('power: no readings');
  const first = readings[0]!;
  const last = readings[readings.length - 1]!;
  if (seconds <= first.seconds) return first.joules;
  if (seconds >= last.seconds) return last.joules;
  let low = 0;
  let high = readings.length - 1;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if (readings[middle]!.seconds <= seconds) low = middle;
    else high = middle;
  }
  const a = readings[low]!;
  const b = readings[high]!;
  return a.joules + ((b.joules - a.joules) * (seconds - a.seconds)) / (b.seconds - a.seconds);
}

/**
 * Mean power over the window, from the readings inside it only (first to last), so that no
 * reading interval that straddles an edge mixes in the power before or after it (idle into
 * load, load into what follows); with fewer than two readings inside, the window's own ends are
 * interpolated instead. Its standard error comes from the power of each reading interval inside:
 * sd / √n, where n counts the intervals but no more than one per `correlatedSeconds`, because a
 * reading that is itself an average over that long (nvidia-smi's `power.draw` averages over 1 s)
 * repeats most of its neighbour. With fewer than two intervals the spread is unknown and the
 * standard error is the mean itself.
 */
export function windowPower(
  readings: readonly Reading[],
  window: Window,
  correlatedSeconds = 0,
): WindowPower {
  const seconds = window.to - window.from;
  if (!(seconds > 0)) throw new Error(`power: window [${window.from}, ${window.to}] is empty`);
  if (readings.length < 2 || readings[0]!.seconds > window.from || readings.at(-1)!.seconds < window.to)
    throw new Error(
      `power: readings from ${readings[0]?.seconds ?? '—'} s to ${readings.at(-1)?.seconds ?? '—'} s do not cover the window ${window.from}–${window.to} s`,
    );
  const inside = readings.filter((r) => r.seconds >= window.from && r.seconds <= window.to);
  const first = inside[0];
  const last = inside.at(-1);
  const watts =
    first && last && last.seconds > first.seconds
      ? (last.joules - first.joules) / (last.seconds - first.seconds)
      : (joulesAt(readings, window.to) - joulesAt(readings, window.from)) / seconds;
  const powers: number[] = [];
  for (let i = 1; i < inside.length; i++) {
    const a = inside[i - 1]!;
    const b = inside[i]!;
    if (b.seconds > a.seconds) powers.push((b.joules - a.joules) / (b.seconds - a.seconds));
  }
  if (powers.length < 2) return { watts, standardError: Math.abs(watts), intervals: powers.length };
  const mean = powers.reduce((sum, p) => sum + p, 0) / powers.length;
  const variance = powers.reduce((sum, p) => sum + (p - mean) ** 2, 0) / (powers.length - 1);
  const spacing = (last!.seconds - first!.seconds) / powers.length;
  const independent = Math.max(1, Math.min(powers.length, seconds / Math.max(correlatedSeconds, spacing)));
  return { watts, standardError: Math.sqrt(variance / independent), intervals: powers.length };
}

export interface Attribution {
  /** The loaded window's mean power × its length. */
  joules: number;
  seconds: number;
  /** Mean power in the idle window; × seconds is what the device would have used anyway. */
  idleWatts: number;
  /** Of the attributed joules, joules − idleWatts × seconds. */
  joulesStandardError: number;
  loaded: WindowPower;
  idle: WindowPower;
}

/** Loaded minus idle, both windows cut from one meter's readings. */
export function attribute(
  readings: readonly Reading[],
  windows: { idle: Window; loaded: Window },
  correlatedSeconds = 0,
): Attribution {
  const idle = windowPower(readings, windows.idle, correlatedSeconds);
  const loaded = windowPower(readings, windows.loaded, correlatedSeconds);
  const seconds = windows.loaded.to - windows.loaded.from;
  return {
    joules: loaded.watts * seconds,
    seconds,
    idleWatts: idle.watts,
    joulesStandardError: Math.hypot(loaded.standardError, idle.standardError) * seconds,
    loaded,
    idle,
  };
}

/**
 * A counter that went down wrapped past its range: RAPL's `energy_uj` runs from 0 to
 * `max_energy_range_uj` and starts again at 0 (the kernel's powercap ABI). Read every 100 ms it
 * wraps at most once between two reads: a 32-bit package counter covers about a minute even at
 * several hundred watts.
 */
export function counterIncrease(previous: number, current: number, range: number): number {
  return current >= previous ? current - previous : range - previous + current;
}
