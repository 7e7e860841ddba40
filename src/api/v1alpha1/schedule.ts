import { CronExpressionParser } from 'cron-parser';

export interface ScheduleSpec {
  interval?: string;
  cron?: string;
}

/** The interval syntax (`30s`, `10m`, `1h30m`) as the CRD's pattern; `parseInterval` reads it. */
export const intervalPattern = '^([0-9]+(s|m|h))+$';

const durationUnitsMs: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/** Parses the schedule's interval syntax, e.g. `30m` or `1h30m`. */
export function parseInterval(interval: string): number {
  const parts = [...interval.matchAll(/([0-9]+)(s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== interval) {
    throw new Error(`schedule.interval "${interval}" is not a duration such as 30m or 1h30m`);
  }
  return parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * durationUnitsMs[unit!]!, 0);
}

/** When the run after one scheduled at `previous` is due. Cron expressions are read in UTC. */
export function nextRunAfter(schedule: ScheduleSpec, previous: Date): Date {
  if (schedule.cron) {
    return CronExpressionParser.parse(schedule.cron, { currentDate: previous, tz: 'UTC' }).next().toDate();
  }
  if (schedule.interval) return new Date(previous.getTime() + parseInterval(schedule.interval));
  throw new Error('schedule: set exactly one of interval or cron');
}

/**
 * Why a schedule can never start a run, or undefined: a cron expression that does not parse, or
 * one that never fires (`0 0 30 2 *`). The API server's schema cannot tell; the operator refuses
 * such a PME with InvalidSpec and the CLI refuses the manifest.
 */
export function scheduleProblem(schedule: ScheduleSpec, now = new Date()): string | undefined {
  try {
    nextRunAfter(schedule, now);
    return undefined;
  } catch (error) {
    const field = schedule.cron ? `spec.schedule.cron "${schedule.cron}"` : 'spec.schedule';
    return `${field} can never start a run: ${(error as Error).message}`;
  }
}
