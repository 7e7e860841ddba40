/**
 * Runs on data changes, decided from what is stored: status.dataWatch (the versions the operator
 * last read, and since when each has held) against spec.dataVersions of the latest run (what it
 * saw when it started). No I/O: the reconciler reads the versions (data-versions.ts) and writes
 * what comes out; test/unit/controller/data-watch.test.ts checks it as tables.
 */
import type {
  DataChanges,
  DataWatch,
  EvaluationRun,
  SourceRole,
  WatchedSource,
} from '../api/v1alpha1/index.js';
import { parseInterval } from '../api/v1alpha1/schedule.js';

export interface ObservedVersion {
  source: SourceRole;
  uri: string;
  version?: string;
  problem?: string;
}

/**
 * The new status.dataWatch from the previous one and what was just read. A version seen for the
 * first time starts its settle time; a source that could not be read keeps the version last read,
 * so an unreachable server that comes back unchanged starts nothing.
 */
export function recordVersions(
  previous: DataWatch | undefined,
  observed: ObservedVersion[],
  now: Date,
): DataWatch {
  const sources = observed.map((read): WatchedSource => {
    const before = previous?.sources.find((s) => s.source === read.source && s.uri === read.uri);
    if (read.version === undefined) {
      const kept =
        before?.version !== undefined ? { version: before.version, changedAt: before.changedAt } : {};
      return { source: read.source, uri: read.uri, ...kept, problem: read.problem ?? 'no version' };
    }
    const changedAt =
      before?.version === read.version && before.changedAt ? before.changedAt : now.toISOString();
    return { source: read.source, uri: read.uri, version: read.version, changedAt };
  });
  return { observedAt: now.toISOString(), sources };
}

/** Whether two watches say the same of every source (then status need not be written again). */
export function sameWatch(a: DataWatch | undefined, b: DataWatch): boolean {
  if (!a || a.sources.length !== b.sources.length) return false;
  return b.sources.every((source) => {
    const other = a.sources.find((s) => s.source === source.source);
    return (
      other !== undefined &&
      other.uri === source.uri &&
      other.version === source.version &&
      other.changedAt === source.changedAt &&
      other.problem === source.problem
    );
  });
}

/** The versions a new run records: those of the watch, for the sources that have one. */
export function versionsOf(watch: DataWatch | undefined): Record<string, string> | undefined {
  const versions = Object.fromEntries(
    (watch?.sources ?? []).filter((s) => s.version !== undefined).map((s) => [s.source, s.version!]),
  );
  return Object.keys(versions).length > 0 ? versions : undefined;
}

export type DataChange = { due: true; detail: string } | { due: false; at?: Date };

/**
 * A run is due when a source's version differs from the one the latest run recorded and has held
 * for `settle`, as confirmed by a read at least `settle` after it was first seen (`lastCheck`).
 * A source the latest run recorded no version for starts nothing: there is nothing to compare.
 * When a change is still settling, `at` is when the read that can confirm it is due.
 */
export function dataChange(
  watch: DataWatch | undefined,
  latestRun: EvaluationRun | undefined,
  changes: DataChanges,
  lastCheck: Date | undefined,
): DataChange {
  if (!changes.enabled || !watch || !latestRun) return { due: false };
  const recorded = latestRun.spec.dataVersions ?? {};
  const settleMs = parseInterval(changes.settle);
  let at: Date | undefined;
  for (const source of watch.sources) {
    const seen = recorded[source.source];
    if (seen === undefined || source.version === undefined || source.version === seen) continue;
    const settledAt = new Date(new Date(source.changedAt ?? watch.observedAt).getTime() + settleMs);
    if (lastCheck && lastCheck.getTime() >= settledAt.getTime())
      return { due: true, detail: `${source.source} ${source.uri} changed (${seen} → ${source.version})` };
    if (!at || settledAt < at) at = settledAt;
  }
  return at ? { due: false, at } : { due: false };
}

/** When the sources should next be read: every checkInterval, sooner to confirm a settling change. */
export function nextCheck(
  changes: DataChanges,
  lastCheck: Date | undefined,
  settling?: Date,
): Date | undefined {
  if (!changes.enabled) return undefined;
  if (!lastCheck) return new Date(0);
  const regular = new Date(lastCheck.getTime() + parseInterval(changes.checkInterval));
  return settling && settling < regular ? settling : regular;
}
