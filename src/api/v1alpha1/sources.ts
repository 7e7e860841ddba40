/**
 * Where a model or data file can live and how a data file is laid out: the one list of each. The
 * CRD's URI pattern and format enum are generated from these tables; the controller mounts the
 * `mounted` schemes into the evaluator Job, the egress policy checks the hosts of the `network`
 * ones, and the evaluator has one reader per scheme and per format, keyed by these names (a
 * `Record` over them, so a missing reader does not compile). Adding a format is a line here and a
 * reader file in src/evaluator/data. Adding a scheme is a line here and a reader file in
 * src/evaluator/sources, plus one entry in each `Record` keyed by scheme, which the compiler asks
 * for: `readers` (the reader), `versionProbes` (src/controller/data-versions.ts: how the operator
 * sees a new version, or why it cannot) and, for a network scheme, `connectsTo`
 * (src/security/egress.ts: the host the egress policy checks).
 */

/**
 * How a scheme's bytes reach the evaluator pod. `mounted`: the Job mounts the named volume
 * read-only at `<mountRoot>/<name>`; `network`: fetched, the host checked against the egress
 * policy; `local`: a file of the pod's own image (or, for `pruneguard evaluate`, of your disk).
 */
export type SourceDelivery = 'mounted' | 'network' | 'local';

export interface SourceSchemeDefinition {
  delivery: SourceDelivery;
  /** How a URI of this scheme is written, as the CRD's description shows it. */
  syntax: string;
  /** For `mounted` schemes: where the evaluator Job mounts the volumes. */
  mountRoot?: string;
}

/**
 * In the order the CRD, the chart's `security.egress.schemes` and error messages list them.
 * `http://` is accepted like `https://`, under the same egress policy (hosts, private and loopback
 * addresses); it is meant for in-cluster Services, and an operator that wants TLS everywhere drops
 * it from `--egress-schemes` (docs/security.md).
 */
export const sourceSchemes = {
  pvc: { delivery: 'mounted', syntax: 'pvc://<claim>/<path>', mountRoot: '/mnt/pruneguard/pvc' },
  configmap: {
    delivery: 'mounted',
    syntax: 'configmap://<name>/<key>',
    mountRoot: '/mnt/pruneguard/configmap',
  },
  https: { delivery: 'network', syntax: 'https://<host>/<path>' },
  http: { delivery: 'network', syntax: 'http://<host>/<path> (in-cluster services)' },
  s3: { delivery: 'network', syntax: 's3://<bucket>/<key> (endpoint, region and credentials: spec.s3)' },
  file: { delivery: 'local', syntax: 'file://<path>' },
} as const satisfies Record<string, SourceSchemeDefinition>;

export type SourceScheme = keyof typeof sourceSchemes;

/** The schemes whose volumes the evaluator Job mounts. */
export type MountedScheme = {
  [S in SourceScheme]: (typeof sourceSchemes)[S]['delivery'] extends 'mounted' ? S : never;
}[SourceScheme];

/** The schemes fetched over the network, whose hosts the egress policy checks. */
export type NetworkScheme = {
  [S in SourceScheme]: (typeof sourceSchemes)[S]['delivery'] extends 'network' ? S : never;
}[SourceScheme];

export const sourceSchemeNames = Object.keys(sourceSchemes) as SourceScheme[];

export const mountedSchemes = sourceSchemeNames.filter(
  (scheme): scheme is MountedScheme => sourceSchemes[scheme].delivery === 'mounted',
);

export const networkSchemes = sourceSchemeNames.filter(
  (scheme): scheme is NetworkScheme => sourceSchemes[scheme].delivery === 'network',
);

/** Where the evaluator Job mounts a `mounted` scheme's volumes, and where its reader looks for them. */
export function mountRoot(scheme: MountedScheme): string {
  return sourceSchemes[scheme].mountRoot;
}

/** The CRD's pattern for a model or data URI: one of the registered schemes. */
export const uriPattern = `^(${sourceSchemeNames.join('|')})://`;

/** "One of pvc://<claim>/<path>, …": the end of every URI field's description. */
export const uriSyntax = `One of ${sourceSchemeNames.map((scheme) => sourceSchemes[scheme].syntax).join(', ')}.`;

/**
 * Every data format by the name `spec.data.format` uses, with the file name endings that select it
 * when `format` is absent.
 */
export const dataFormatExtensions = {
  csv: ['.csv'],
  jsonl: ['.jsonl', '.ndjson'],
  json: ['.json'],
  parquet: ['.parquet', '.pq'],
  arrow: ['.arrow', '.feather', '.ipc', '.arrows'],
} as const satisfies Record<string, readonly string[]>;

export type DataFormat = keyof typeof dataFormatExtensions;

/** A non-empty tuple, as `stringEnum` wants it. */
export const dataFormats = Object.keys(dataFormatExtensions) as [DataFormat, ...DataFormat[]];

/** The format a file name implies, or undefined when no extension matches. */
export function formatOfPath(path: string): DataFormat | undefined {
  const name = path.replace(/[?#].*$/, '').toLowerCase();
  return dataFormats.find((format) =>
    dataFormatExtensions[format].some((extension) => name.endsWith(extension)),
  );
}

/** The four files an evaluation reads, by the name status and run records use. */
export const sourceRoles = ['teacher', 'candidate', 'reference', 'current'] as const;
export type SourceRole = (typeof sourceRoles)[number];

/** Where each of them lives in a spec. */
export function sourceUris(spec: {
  teacher: { uri: string };
  candidate: { uri: string };
  data: { reference: { uri: string }; current: { uri: string } };
}): Record<SourceRole, string> {
  return {
    teacher: spec.teacher.uri,
    candidate: spec.candidate.uri,
    reference: spec.data.reference.uri,
    current: spec.data.current.uri,
  };
}
