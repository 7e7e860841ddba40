/**
 * Where pruneguard may send a request or read a file on behalf of a PrunedModelEvaluation. A spec
 * author is not trusted with the operator's network position: model and data URIs and the
 * retraining webhook are checked against an egress policy twice, by name before anything starts
 * (`checkUri`) and by address when connecting (`egressLookup`), because a name can resolve, or
 * re-resolve, to an address that its spelling does not show.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

import { parseS3Uri, s3ObjectUrl, type S3Options } from '../api/v1alpha1/object-storage.js';
import {
  networkSchemes,
  sourceSchemeNames,
  sourceSchemes,
  type NetworkScheme,
} from '../api/v1alpha1/sources.js';

export interface EgressPolicy {
  /** URI schemes without `://`, of `sourceSchemes` (src/api/v1alpha1/sources.ts); a plain path is file. */
  schemes: string[];
  /** Patterns on an http(s) URL's host: a name, `*.example.com` (subdomains), an IP, a CIDR, or `*`. */
  hosts: string[];
  allowLoopback: boolean;
  /** RFC 1918, 100.64.0.0/10 (CGNAT) and fc00::/7; in-cluster Services live there. */
  allowPrivate: boolean;
}

/** The schemes whose hosts the policy checks. */
const hostSchemes: ReadonlySet<string> = new Set(networkSchemes);

/** What the check of a URI needs besides the URI: the evaluation's spec.s3, for s3:// sources. */
export interface UriContext {
  s3?: S3Options | undefined;
}

/**
 * The URL each network scheme actually connects to, whose host the policy checks. For s3:// that
 * is the endpoint (with the bucket as a subdomain in virtual-hosted style), not the bucket's name;
 * the Record makes a newly registered network scheme say where it connects.
 */
const connectsTo: Record<NetworkScheme, (url: URL, uri: string, context: UriContext) => URL> = {
  https: (url) => url,
  http: (url) => url,
  s3: (_url, uri, context) => s3ObjectUrl(parseS3Uri(uri), context.s3),
};

/**
 * The operator and evaluation pods: every scheme but `local` ones (no files of the pod's own
 * image), no loopback (sidecars' admin ports).
 */
export const clusterEgressDefaults: EgressPolicy = {
  schemes: sourceSchemeNames.filter((scheme) => sourceSchemes[scheme].delivery !== 'local'),
  hosts: ['*'],
  allowLoopback: false,
  allowPrivate: true,
};

/** `pruneguard evaluate` on a user's machine, reading what the user can read anyway. */
export const localEgressDefaults: EgressPolicy = {
  schemes: [...sourceSchemeNames],
  hosts: ['*'],
  allowLoopback: true,
  allowPrivate: true,
};

export const egressFlags = {
  schemes: '--egress-schemes',
  hosts: '--egress-hosts',
  allowLoopback: '--egress-allow-loopback',
  allowPrivate: '--egress-allow-private',
} as const;

/** How the operator hands its policy to evaluation pods. */
export const egressPolicyEnv = 'PRUNEGUARD_EGRESS_POLICY';

export class EgressRefusedError extends Error {
  readonly code = 'EGRESS_REFUSED';
  override readonly name = 'EgressRefusedError';
}

// ---------------------------------------------------------------------------------------------
// Addresses

/**
 * Cloud metadata and credential endpoints, refused whatever the policy says. Most are link-local
 * (refused as such anyway); the ones that are not would otherwise pass as private addresses.
 * Sources: PayloadsAllTheThings, "Server Side Request Forgery/SSRF-Cloud-Instances.md"
 * (github.com/swisskyrepo/PayloadsAllTheThings): AWS 169.254.169.254 and fd00:ec2::254, AWS ECS
 * 169.254.170.2, GCP metadata.google.internal and `metadata`, Oracle 192.0.0.192, Alibaba
 * 100.100.100.200, `instance-data`, `rancher-metadata`, Packet metadata.packet.net; AWS EKS Pod
 * Identity Agent docs (169.254.170.23, fd00:ec2::23); Azure "What is IP address 168.63.129.16"
 * (the WireServer); Tencent Cloud CVM docs (metadata.tencentyun.com); Equinix Metal docs
 * (metadata.platformequinix.com). metadata.azure.com is not a documented Azure endpoint (Azure's
 * IMDS is only 169.254.169.254) but appears on SSRF filter lists and costs nothing to refuse.
 */
const metadataAddresses = [
  '169.254.169.254',
  '169.254.170.2',
  '169.254.170.23',
  '100.100.100.200',
  '192.0.0.192',
  '168.63.129.16',
  'fd00:ec2::254',
  'fd00:ec2::23',
];

export const metadataHostnames: readonly string[] = [
  'metadata',
  'metadata.google.internal',
  'metadata.azure.com',
  'metadata.tencentyun.com',
  'metadata.packet.net',
  'metadata.platformequinix.com',
  'instance-data',
  'instance-data.ec2.internal',
  'rancher-metadata',
];

/** What an address is, after unwrapping IPv4 carried in IPv6 (mapped, translated, NAT64, compatible). */
export type AddressKind =
  'metadata' | 'link-local' | 'unspecified' | 'non-unicast' | 'loopback' | 'private' | 'public';

interface Address {
  version: 4 | 6;
  bytes: number[];
}

const ranges: [string, AddressKind][] = [
  ['0.0.0.0/8', 'unspecified'], // "this network"; Linux delivers 0.0.0.0 to the local host
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['100.64.0.0/10', 'private'],
  ['224.0.0.0/3', 'non-unicast'], // multicast, reserved and broadcast
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'private'], // deprecated site-local
  ['fc00::/7', 'private'],
  ['ff00::/8', 'non-unicast'],
];

const classified = ranges.map(([cidr, kind]) => ({ ...parseCidr(cidr)!, kind }));
const metadataKeys = new Set(metadataAddresses.map((a) => addressKey(parseIp(a)!)));

/** The kind of an IP literal (brackets and a zone allowed), or undefined when it is not one. */
export function classifyAddress(address: string): AddressKind | undefined {
  const parsed = parseIp(address);
  if (!parsed) return undefined;
  const effective = unwrapIPv4(parsed);
  if (metadataKeys.has(addressKey(parsed)) || metadataKeys.has(addressKey(effective))) return 'metadata';
  return classified.find((range) => inRange(effective, range))?.kind ?? 'public';
}

/** Why the policy refuses to connect to this IP literal, or undefined (also for names). */
export function addressRefusal(policy: EgressPolicy, address: string): string | undefined {
  const verdict = addressVerdict(policy, address);
  return verdict && `${verdict.shown} is ${verdict.reason}`;
}

function addressVerdict(
  policy: EgressPolicy,
  address: string,
): { shown: string; reason: string } | undefined {
  const kind = classifyAddress(address);
  if (kind === undefined) return undefined;
  const parsed = parseIp(address)!;
  const effective = unwrapIPv4(parsed);
  const shown = effective === parsed ? formatIp(parsed) : `${formatIp(parsed)} (IPv4 ${formatIp(effective)})`;
  const reason = (() => {
    switch (kind) {
      case 'metadata':
        return 'a cloud metadata address (always refused)';
      case 'link-local':
        return 'a link-local address, where cloud metadata services live (always refused)';
      case 'unspecified':
        return 'an unspecified address (always refused)';
      case 'non-unicast':
        return 'a multicast, broadcast or reserved address (always refused)';
      case 'loopback':
        return policy.allowLoopback
          ? undefined
          : `a loopback address, refused unless the egress policy allows loopback (${egressFlags.allowLoopback})`;
      case 'private':
        return policy.allowPrivate
          ? undefined
          : `a private address, refused unless the egress policy allows private addresses (${egressFlags.allowPrivate})`;
      case 'public':
        return undefined;
    }
  })();
  return reason === undefined ? undefined : { shown, reason };
}

function parseIp(text: string): Address | undefined {
  const bare = (text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text).replace(/%.*$/, '');
  if (net.isIPv4(bare)) return { version: 4, bytes: bare.split('.').map(Number) };
  if (!net.isIPv6(bare)) return undefined;
  const words = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = bare.split('::');
  const before = words(head);
  const after = tail === undefined ? [] : words(tail);
  const all =
    tail === undefined ? before : [...before, ...Array(8 - before.length - after.length).fill(0), ...after];
  return { version: 6, bytes: all.flatMap((word) => [word >> 8, word & 0xff]) };
}

/** IPv6 forms that reach an IPv4 host; the IPv4 rules must apply to them. */
function unwrapIPv4(address: Address): Address {
  if (address.version === 4) return address;
  const b = address.bytes;
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const v4: Address = { version: 4, bytes: b.slice(12) };
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4; // ::ffff:a.b.c.d (mapped)
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return v4; // ::ffff:0:a.b.c.d (RFC 2765)
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4; // 64:ff9b::/96 NAT64
  if (zero(0, 12) && b[12] !== 0) return v4; // ::a.b.c.d (deprecated "compatible"); not :: or ::1
  return address;
}

function addressKey(address: Address): string {
  return `${address.version}:${address.bytes.join('.')}`;
}

function formatIp(address: Address): string {
  if (address.version === 4) return address.bytes.join('.');
  const words = Array.from({ length: 8 }, (_, i) =>
    ((address.bytes[2 * i]! << 8) | address.bytes[2 * i + 1]!).toString(16),
  );
  // The WHATWG serializer writes the canonical (RFC 5952) form.
  return new URL(`http://[${words.join(':')}]/`).hostname.slice(1, -1);
}

interface Cidr {
  version: 4 | 6;
  bytes: number[];
  bits: number;
}

function parseCidr(text: string): Cidr | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!match) return undefined;
  const address = parseIp(match[1]!);
  const bits = Number(match[2]);
  if (!address || bits > address.bytes.length * 8) return undefined;
  return { ...address, bits };
}

function inRange(address: Address, range: Cidr): boolean {
  if (address.version !== range.version) return false;
  for (let bit = 0; bit < range.bits; bit += 8) {
    const take = Math.min(8, range.bits - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((address.bytes[bit / 8]! & mask) !== (range.bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Hosts and URIs

/** Lowercase, without IPv6 brackets or the trailing dots that make a name absolute. */
function normalizeHost(hostname: string): string {
  const lower = hostname.toLowerCase();
  const bare = lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
  return bare.replace(/\.+$/, '');
}

const hostnamePattern = /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/** Whether a `hosts` entry is one of the accepted forms (see EgressPolicy.hosts). */
export function isHostPattern(pattern: string): boolean {
  const normalized = normalizeHost(pattern);
  return (
    normalized === '*' ||
    parseIp(normalized) !== undefined ||
    parseCidr(normalized) !== undefined ||
    hostnamePattern.test(normalized)
  );
}

function hostMatches(pattern: string, host: string): boolean {
  const wanted = normalizeHost(pattern);
  if (wanted === '*') return true;
  const address = parseIp(host);
  const cidr = parseCidr(wanted);
  if (cidr) return address !== undefined && inRange(unwrapIPv4(address), cidr);
  const literal = parseIp(wanted);
  if (literal)
    return address !== undefined && addressKey(unwrapIPv4(address)) === addressKey(unwrapIPv4(literal));
  if (wanted.startsWith('*.')) return address === undefined && host.endsWith(wanted.slice(1));
  return host === wanted;
}

/**
 * Why the policy refuses a host as written in a URL (a name or an IP literal), or undefined.
 * Names are not resolved here; `egressLookup` checks what they resolve to.
 */
export function hostRefusal(policy: EgressPolicy, hostname: string): string | undefined {
  const host = normalizeHost(hostname);
  if (host === '') return 'it has no host';
  const literal = addressRefusal(policy, host);
  if (literal) return literal;
  // RFC 6761: these names are loopback whatever DNS says; saying so now beats failing in the pod.
  if (!policy.allowLoopback && (host === 'localhost' || host.endsWith('.localhost')))
    return `${host} is a loopback name, refused unless the egress policy allows loopback (${egressFlags.allowLoopback})`;
  return nameRefusal(policy, host);
}

/** The checks on a host that need no address: metadata names and the allowed hosts. */
function nameRefusal(policy: EgressPolicy, host: string): string | undefined {
  if (metadataHostnames.includes(host)) return `${host} is a cloud metadata endpoint (always refused)`;
  if (!policy.hosts.some((pattern) => hostMatches(pattern, host)))
    return `${host} is not an allowed host (allowed: ${policy.hosts.join(', ')}; ${egressFlags.hosts})`;
  return undefined;
}

/** The scheme of a URI in lowercase, or undefined for a plain path. */
export function uriScheme(uri: string): string | undefined {
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
}

/** The URI for messages: a password in it is replaced by `***`, since messages reach statuses and logs. */
export function redactUri(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@]*?:)[^/?#@]*@/i, '$1***@');
}

function urlRefusal(
  policy: EgressPolicy,
  url: URL,
  uri: string = url.href,
  context: UriContext = {},
): string | undefined {
  const scheme = url.protocol.slice(0, -1);
  const schemeRefusal = (name: string) =>
    `scheme ${name}:// is not allowed (allowed: ${policy.schemes.join(', ')}; the operator's ${egressFlags.schemes})`;
  if (!policy.schemes.includes(scheme)) return schemeRefusal(scheme);
  if (scheme === 'file' && url.hostname !== '' && url.hostname !== 'localhost')
    return `file:// names host '${url.hostname}'; write file:///absolute/path (only pruneguard evaluate resolves relative file:// paths, against the manifest)`;
  if (!hostSchemes.has(scheme)) return undefined;
  let target: URL;
  try {
    target = connectsTo[scheme as NetworkScheme](url, uri, context);
  } catch (error) {
    return (error as Error).message.replace(`${uri}: `, '');
  }
  if (target === url) {
    const host = hostRefusal(policy, url.hostname);
    return host && `its host ${host}`;
  }
  // An http:// endpoint is plain HTTP whichever scheme the URI names, so a policy without http://
  // (TLS for every source) refuses it too.
  if (target.protocol === 'http:' && !policy.schemes.includes('http'))
    return `it is fetched from ${target.origin}, and ${schemeRefusal('http')}`;
  const host = hostRefusal(policy, target.hostname);
  return host && `it is fetched from ${target.origin}, whose host ${host}`;
}

/**
 * Why the policy refuses a model, data or webhook URI, as one line that starts with `field` (e.g.
 * `spec.data.current.uri`) when given, else with the URI; undefined when it is allowed. No DNS:
 * names are checked again, by address, when connecting. An s3:// URI is checked by the endpoint
 * it is fetched from, which `context.s3` (the evaluation's spec.s3) decides.
 */
export function checkUri(
  policy: EgressPolicy,
  uri: string,
  field?: string,
  context: UriContext = {},
): string | undefined {
  const refused = (why: string) => `${field ? `${field}: ` : ''}${redactUri(uri)} is refused: ${why}`;
  const scheme = uriScheme(uri);
  if (scheme === undefined) {
    return policy.schemes.includes('file')
      ? undefined
      : refused(
          `local files (plain paths and file://) are not allowed (allowed: ${policy.schemes.join(', ')}; the operator's ${egressFlags.schemes})`,
        );
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return refused('not a valid URL');
  }
  const why = urlRefusal(policy, url, uri, context);
  return why && refused(why);
}

// ---------------------------------------------------------------------------------------------
// Connecting

export type Resolver = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void,
) => void;

/**
 * A `lookup` for `http.request`, `https.request` and `net.connect`: resolves like node does and
 * refuses the connection when the host or any address it resolves to is refused. The address
 * checked is the one connected to, so a name that resolves to a metadata address, or rebinds
 * after `checkUri`, is stopped. Node does not call `lookup` for IP literals: `guardedRequest`
 * checks those itself. `resolve` is for tests.
 */
export function egressLookup(policy: EgressPolicy, resolve: Resolver = dns.lookup): net.LookupFunction {
  return (hostname, options, callback) => {
    const refuse = (why: string) =>
      callback(new EgressRefusedError(`connection refused by the egress policy: ${why}`), '', 0);
    const name = nameRefusal(policy, normalizeHost(hostname));
    if (name) return refuse(name);
    resolve(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      for (const { address } of addresses) {
        const verdict = addressVerdict(policy, address);
        if (verdict) return refuse(`${hostname} resolves to ${verdict.shown}, ${verdict.reason}`);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname}: no addresses`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * `http.request`/`https.request` under the policy: throws EgressRefusedError for a refused URL
 * (IP literals included, which never reach `lookup`), resolves names through `egressLookup`, and
 * opens its own connection, so a pooled socket opened without the check is never reused.
 * Redirects are the caller's: node's client never follows them.
 */
export function guardedRequest(
  policy: EgressPolicy,
  url: URL,
  options: https.RequestOptions,
  onResponse?: (response: http.IncomingMessage) => void,
  resolve?: Resolver,
): http.ClientRequest {
  const why = urlRefusal(policy, url);
  if (why) throw new EgressRefusedError(`${redactUri(url.href)} is refused: ${why}`);
  const client = url.protocol === 'https:' ? https : http;
  return client.request(url, { ...options, agent: false, lookup: egressLookup(policy, resolve) }, onResponse);
}

/** The error for a 3xx: what it points to, and that pruneguard does not go there. */
export function redirectError(uri: string, response: http.IncomingMessage): Error {
  const location = response.headers.location;
  return new Error(
    `${redactUri(uri)}: HTTP ${response.statusCode} redirects to ${location ? redactUri(location) : '(no Location)'}; redirects are not followed, use the final URL`,
  );
}

export interface EgressRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** The whole exchange, from connecting to the last byte kept (default 10 s). */
  timeoutMs?: number;
  /** Until the TCP connection is up (default: the smaller of 5 s and timeoutMs). */
  connectTimeoutMs?: number;
  /** Bytes of the body kept; the rest is dropped and `truncated` set (default 64 KiB). */
  maxResponseBytes?: number;
  /** For https: the CA the server's certificate is checked against, and a client certificate (mTLS). */
  tls?: Pick<https.RequestOptions, 'ca' | 'cert' | 'key'>;
  /** For tests: the resolver under the guarded lookup. */
  resolve?: Resolver;
}

export interface EgressResponse {
  status: number;
  statusText: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  truncated: boolean;
}

export const defaultMaxResponseBytes = 64 * 1024;

/**
 * One request under the policy, for small exchanges such as the retraining webhook. Never follows
 * redirects (a 3xx is an error naming its Location); any other status is returned. Errors name
 * the URL, its password redacted.
 */
export function egressRequest(
  policy: EgressPolicy,
  url: string,
  options: EgressRequestOptions = {},
): Promise<EgressResponse> {
  const shown = redactUri(url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? Math.min(5_000, timeoutMs);
  const maxBytes = options.maxResponseBytes ?? defaultMaxResponseBytes;
  return new Promise((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    let timedOut: string | undefined;
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      outcome();
    };
    const fail = (error: Error) =>
      settle(() => {
        const message = `${shown}: ${timedOut ?? error.message}`;
        const Failure = error instanceof EgressRefusedError ? EgressRefusedError : Error;
        reject(new Failure(message, { cause: error }));
      });

    const onResponse = (response: http.IncomingMessage) => {
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        response.destroy();
        return settle(() => reject(redirectError(url, response)));
      }
      const chunks: Buffer[] = [];
      let kept = 0;
      const finish = (truncated: boolean) =>
        settle(() =>
          resolve({
            status,
            statusText: response.statusMessage ?? '',
            headers: response.headers,
            body: Buffer.concat(chunks),
            truncated,
          }),
        );
      response.on('data', (chunk: Buffer) => {
        const room = maxBytes - kept;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        kept += Math.min(chunk.length, room);
        if (chunk.length > room) {
          finish(true);
          response.destroy();
        }
      });
      response.on('end', () => finish(false));
      response.on('error', fail);
    };

    let request: http.ClientRequest;
    try {
      request = guardedRequest(
        policy,
        new URL(url),
        { method: options.method ?? 'GET', headers: options.headers ?? {}, ...options.tls },
        onResponse,
        options.resolve,
      );
    } catch (error) {
      // A refusal before connecting already names the URL; an invalid URL does not.
      const refused = error instanceof EgressRefusedError;
      return settle(() => reject(refused ? error : new Error(`${shown}: ${(error as Error).message}`)));
    }
    const abort = (why: string) => () => {
      timedOut = why;
      request.destroy(new Error(why));
    };
    timers.push(setTimeout(abort(`no complete answer within ${timeoutMs} ms`), timeoutMs));
    request.on('socket', (socket) => {
      if (!socket.connecting) return;
      const connecting = setTimeout(abort(`not connected within ${connectTimeoutMs} ms`), connectTimeoutMs);
      timers.push(connecting);
      socket.once('connect', () => clearTimeout(connecting));
    });
    request.on('error', fail);
    request.end(options.body);
  });
}

/** POSTs JSON and reports only the status; for the retraining webhook. */
export async function postJson(
  policy: EgressPolicy,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<{ status: number; statusText: string }> {
  const response = await egressRequest(policy, url, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    timeoutMs,
    maxResponseBytes: 4096,
  });
  return { status: response.status, statusText: response.statusText };
}

// ---------------------------------------------------------------------------------------------
// Configuration: operator flags, and the environment of evaluation pods

export interface EgressFlagValues {
  /** Comma list, e.g. "pvc,configmap,https". */
  schemes?: string;
  /** Comma list of host patterns. */
  hosts?: string;
  /** A boolean flag, or its text ("true"/"false") from a string-valued flag or environment. */
  allowLoopback?: boolean | string;
  allowPrivate?: boolean | string;
}

/** The operator's policy from its flags; an absent flag keeps the default. Errors name the flag. */
export function egressPolicyFromFlags(flags: EgressFlagValues, defaults: EgressPolicy): EgressPolicy {
  const list = (text: string) =>
    text
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  return validatedPolicy(
    {
      schemes:
        flags.schemes === undefined ? defaults.schemes : list(flags.schemes).map((s) => s.toLowerCase()),
      hosts: flags.hosts === undefined ? defaults.hosts : list(flags.hosts),
      allowLoopback: flags.allowLoopback === undefined ? defaults.allowLoopback : flags.allowLoopback,
      allowPrivate: flags.allowPrivate === undefined ? defaults.allowPrivate : flags.allowPrivate,
    },
    (key) => egressFlags[key],
  );
}

/** What evaluation pods receive in PRUNEGUARD_EGRESS_POLICY. */
export function encodeEgressPolicy(policy: EgressPolicy): string {
  const { schemes, hosts, allowLoopback, allowPrivate } = policy;
  return JSON.stringify({ schemes, hosts, allowLoopback, allowPrivate });
}

/**
 * The policy the operator passed in PRUNEGUARD_EGRESS_POLICY, or `fallback` when it is unset. A
 * malformed value is an error, not the fallback: a typo must not widen what a pod may reach.
 */
export function egressPolicyFromEnvironment(
  env: Record<string, string | undefined>,
  fallback: EgressPolicy,
): EgressPolicy {
  const text = env[egressPolicyEnv];
  if (text === undefined || text.trim() === '') return fallback;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${egressPolicyEnv}: not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(
      `${egressPolicyEnv}: expected an object with schemes, hosts, allowLoopback, allowPrivate`,
    );
  const fields = value as Record<string, unknown>;
  return validatedPolicy(
    {
      schemes: fields.schemes,
      hosts: fields.hosts,
      allowLoopback: fields.allowLoopback,
      allowPrivate: fields.allowPrivate,
    },
    (key) => `${egressPolicyEnv}.${key}`,
  );
}

type PolicyKey = keyof EgressPolicy;

function validatedPolicy(
  fields: Record<PolicyKey, unknown>,
  where: (key: PolicyKey) => string,
): EgressPolicy {
  const strings = (key: 'schemes' | 'hosts'): string[] => {
    const value = fields[key];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
      throw new Error(`${where(key)}: expected a list of strings`);
    if (value.length === 0)
      throw new Error(
        `${where(key)}: empty; name at least one ${key === 'schemes' ? 'scheme' : 'host pattern (* for any)'}`,
      );
    return value as string[];
  };
  const schemes = strings('schemes');
  for (const scheme of schemes)
    if (!(sourceSchemeNames as string[]).includes(scheme))
      throw new Error(
        `${where('schemes')}: unknown scheme '${scheme}' (known: ${sourceSchemeNames.join(', ')})`,
      );
  const hosts = strings('hosts');
  for (const host of hosts)
    if (!isHostPattern(host))
      throw new Error(
        `${where('hosts')}: '${host}' is not a host name, *.domain, IP address, CIDR or * (any)`,
      );
  const flag = (key: 'allowLoopback' | 'allowPrivate'): boolean => {
    const value = fields[key];
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    throw new Error(`${where(key)}: expected true or false, got ${JSON.stringify(value)}`);
  };
  return { schemes, hosts, allowLoopback: flag('allowLoopback'), allowPrivate: flag('allowPrivate') };
}
