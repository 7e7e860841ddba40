/**
 * The permission tables of docs/security.md, read the same way by the unit test that compares them
 * with manifests/install/ and by the chart test that compares them with the rendered chart.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const securityDoc = readFileSync(path.join(repoRoot, 'docs/security.md'), 'utf8');

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** The headings of the tables. */
export const permissionTables = {
  operator: '### Operator: ClusterRole pruneguard-operator',
  leaderElection: '### Operator: Role pruneguard-operator-leader-election',
  evaluator: '### Evaluation pods: Role per EvaluationRun',
  retraining: '### Retraining Jobs: ServiceAccount pruneguard-retraining',
} as const;

/** The lines under `heading` (a whole line), up to the next heading of the same or a higher level. */
export function section(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `docs/security.md has no heading "${heading}"`);
  const level = /^#+/.exec(heading)![0].length;
  const end = lines.findIndex(
    (line, i) => i > start && /^#+ /.test(line) && /^#+/.exec(line)![0].length <= level,
  );
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The rules of the first table in `lines`: columns API group, resource, verbs, names, why. */
export function tableRules(lines: string[]): { rule: Rule; why: string }[] {
  const rows = lines.filter((line) => line.startsWith('|')).slice(2);
  assert.ok(rows.length > 0, 'no table rows');
  return rows.map((row) => {
    const cells = row
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim().replaceAll('`', ''));
    assert.equal(cells.length, 5, `not five columns: ${row}`);
    const [group, resource, verbs, names, why] = cells as [string, string, string, string, string];
    const list = (cell: string) => cell.split(',').map((item) => item.trim());
    return {
      rule: {
        apiGroups: [group === '""' ? '' : group],
        resources: [resource],
        verbs: list(verbs),
        ...(names ? { resourceNames: list(names) } : {}),
      },
      why,
    };
  });
}

/** The rules tabled under `heading`. */
export function documentedRules(heading: string): Rule[] {
  return tableRules(section(securityDoc, heading)).map((row) => row.rule);
}

/** One line per group and resource, verbs and names sorted: equal lines grant the same. */
export function canonical(rules: Rule[]): string[] {
  return rules
    .flatMap((rule) =>
      rule.apiGroups.flatMap((group) =>
        rule.resources.map(
          (resource) =>
            `${group}/${resource} verbs=${[...rule.verbs].sort().join(',')} names=${[...(rule.resourceNames ?? [])].sort().join(',')}`,
        ),
      ),
    )
    .sort();
}
