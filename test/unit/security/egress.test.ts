/**
 * The egress policy. Only loopback addresses ever see a socket here: every other address is
 * checked through the pure functions (checkUri, classifyAddress, egressLookup with a fake
 * resolver), so a broken guard can never send a packet off this machine.
 */
import assert from 'node:assert/strict';
import type dns from 'node:dns';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';

import {
  checkUri,
  classifyAddress,
  clusterEgressDefaults,
  egressFlags,
  egressLookup,
  egressPolicyEnv,
  egressPolicyFromEnvironment,
  egressPolicyFromFlags,
  egressRequest,
  EgressRefusedError,
  encodeEgressPolicy,
  localEgressDefaults,
  postJson,
  type AddressKind,
  type EgressPolicy,
  type Resolver,
} from '../../../src/security/egress.js';
import {
  dribble,
  headersThenSilence,
  httpServer,
  silentServer,
  unacceptingServer,
} from '../evaluator/stalling-servers.js';

const cluster = clusterEgressDefaults;
const local = localEgressDefaults;
const noPrivate: EgressPolicy = { ...cluster, allowPrivate: false };
const onlyExample: EgressPolicy = { ...cluster, hosts: ['models.example.com', '*.data.example.com'] };
const onlyCidrs: EgressPolicy = { ...cluster, hosts: ['10.20.0.0/16', 'fd12:3456::/32', '192.0.2.7'] };

const alwaysRefused = /\(always refused\)/;
const metadata = /is a cloud metadata (address|endpoint) \(always refused\)/;
const linkLocal = /is a link-local address/;
const loopback = /is a loopback (address|name), refused unless .*--egress-allow-loopback/;
const privateAddress = /is a private address, refused unless .*--egress-allow-private/;
const invalid = /is refused: not a valid URL/;

/** [uri, policy, undefined when allowed | what the reason must say]; the same for every field. */
const cases: [string, EgressPolicy, RegExp | undefined][] = [
  // The attacks that worked.
  ['https://169.254.169.254/latest/meta-data/', local, metadata],
  ['file:///var/run/secrets/kubernetes.io/serviceaccount/token', cluster, /scheme file:\/\/ is not allowed/],
  ['/var/run/secrets/kubernetes.io/serviceaccount/token', cluster, /local files .* are not allowed/],
  ['http://169.254.1.1/hook', local, linkLocal],
  // The same address, spelt otherwise; WHATWG URL parsing (node's too) normalizes these.
  ['http://2852039166/', local, metadata],
  ['http://0xa9.0xfe.0xa9.0xfe/', local, metadata],
  ['http://0xA9FEA9FE/', local, metadata],
  ['http://0251.0376.0251.0376/', local, metadata],
  ['http://0251.00376.000251.0000376/', local, metadata],
  ['http://0251.254.169.254/', local, metadata],
  ['http://169.254.43518/', local, metadata],
  ['http://169.254.169.254./', local, metadata],
  ['HTTP://169.254.169.254/', local, metadata],
  ['http://good@169.254.169.254/', local, metadata],
  ['http://good.example.com:80@169.254.169.254/', local, metadata],
  ['http://[::ffff:169.254.169.254]/', local, /\(IPv4 169\.254\.169\.254\) is a cloud metadata address/],
  ['http://[0:0:0:0:0:ffff:a9fe:a9fe]/', local, metadata],
  ['http://[::ffff:a9fe:a9fe]/', local, metadata],
  ['http://[64:ff9b::a9fe:a9fe]/', local, metadata],
  ['http://[::ffff:169.254.7.7]/', local, linkLocal],
  ['http://[fd00:ec2::254]/latest/meta-data/', local, metadata],
  ['http://[FD00:EC2:0::254]/', local, metadata],
  ['http://[fe80::1]/', local, linkLocal],
  ['http://[fe80::1%25eth0]/', local, invalid],
  ['http://425.510.425.510/', local, invalid],
  ['http://7147006462/', local, invalid],
  ['http://0x41414141A9FEA9FE/', local, invalid],
  // A backslash ends the host in http(s) URLs, for node's client as for this check.
  ['http://models.example.com\\@169.254.169.254/', onlyExample, undefined],
  // Metadata by name, in any spelling of the name.
  ['http://metadata.google.internal/computeMetadata/v1/', local, metadata],
  ['http://METADATA.Google.Internal./computeMetadata/v1/', local, metadata],
  ['http://metadata/computeMetadata/v1/', local, metadata],
  ['http://metadata.azure.com/', local, metadata],
  ['http://instance-data/latest/', local, metadata],
  ['http://metadata.tencentyun.com/', local, metadata],
  // Metadata addresses inside ranges that the policy may allow.
  ['http://100.100.100.200/latest/meta-data/', local, metadata],
  ['http://192.0.0.192/latest/', local, metadata],
  ['http://169.254.170.2/v2/credentials/x', local, metadata],
  ['http://[fd00:ec2::23]/', local, metadata],
  ['http://168.63.129.16/', local, metadata],
  // Unspecified, multicast, broadcast.
  ['http://0.0.0.0:8080/', local, /0\.0\.0\.0 is an unspecified address \(always refused\)/],
  ['http://0/', local, /unspecified/],
  ['http://[::]/', local, /:: is an unspecified address/],
  ['http://[::ffff:0.0.0.0]/', local, /unspecified/],
  ['http://224.0.0.1/', local, alwaysRefused],
  ['http://255.255.255.255/', local, alwaysRefused],
  ['http://[ff02::1]/', local, alwaysRefused],
  // Loopback: the CLI may, the cluster may not.
  ['http://127.0.0.1:9000/data.csv', local, undefined],
  ['http://127.0.0.1:9000/data.csv', cluster, loopback],
  ['http://127.1/', cluster, loopback],
  ['http://2130706433/', cluster, loopback],
  ['http://[::1]/', cluster, loopback],
  ['http://[::ffff:127.0.0.1]/', cluster, loopback],
  ['http://localhost:15000/', cluster, loopback],
  ['http://LOCALHOST./', cluster, loopback],
  ['http://admin.localhost/', cluster, loopback],
  ['http://localhost:9000/', local, undefined],
  // Private: allowed by default (in-cluster Services), refused when the operator says so.
  ['http://10.96.0.10/', cluster, undefined],
  ['http://10.96.0.10/', noPrivate, privateAddress],
  ['http://172.16.5.4/', noPrivate, privateAddress],
  ['http://172.32.0.1/', noPrivate, undefined],
  ['http://192.168.1.1/', noPrivate, privateAddress],
  ['http://100.64.0.1/', noPrivate, privateAddress],
  ['http://[fd12:3456::1]/', noPrivate, privateAddress],
  ['http://[::ffff:10.0.0.1]/', noPrivate, privateAddress],
  ['http://8.8.8.8/', noPrivate, undefined],
  ['https://models.example.com/candidate.onnx', noPrivate, undefined],
  ['http://model-store.ml.svc.cluster.local:8080/x.onnx', noPrivate, undefined],
  // Schemes.
  ['pvc://models/candidate.onnx', cluster, undefined],
  ['s3://models/candidate.onnx', cluster, undefined],
  ['configmap://thresholds/reference.csv', cluster, undefined],
  ['file:///models/candidate.onnx', local, undefined],
  ['models/candidate.onnx', local, undefined],
  [
    'file://169.254.169.254/etc/passwd',
    local,
    /file:\/\/ names host '169\.254\.169\.254'; write file:\/\/\/absolute\/path/,
  ],
  ['http://models.example.com/x', { ...cluster, schemes: ['https'] }, /scheme http:\/\/ is not allowed/],
  ['gopher://127.0.0.1:6379/_x', local, /scheme gopher:\/\/ is not allowed/],
  ['gs://bucket/key.csv', local, /scheme gs:\/\/ is not allowed/],
  // Host patterns.
  ['https://models.example.com/x', onlyExample, undefined],
  ['https://MODELS.example.com./x', onlyExample, undefined],
  ['https://eu.data.example.com/x', onlyExample, undefined],
  ['https://a.b.data.example.com/x', onlyExample, undefined],
  ['https://data.example.com/x', onlyExample, /data\.example\.com is not an allowed host/],
  ['https://evil-data.example.com/x', onlyExample, /is not an allowed host .*--egress-hosts/],
  ['https://models.example.com.evil.test/x', onlyExample, /is not an allowed host/],
  ['https://10.20.3.4/x', onlyExample, /is not an allowed host/],
  ['https://10.20.3.4/x', onlyCidrs, undefined],
  ['https://[::ffff:10.20.3.4]/x', onlyCidrs, undefined],
  ['https://10.21.0.1/x', onlyCidrs, /is not an allowed host/],
  ['https://[fd12:3456:ffff::9]/x', onlyCidrs, undefined],
  ['https://192.0.2.7/x', onlyCidrs, undefined],
  ['https://192.0.2.8/x', onlyCidrs, /is not an allowed host/],
  ['https://models.example.com/x', onlyCidrs, /is not an allowed host/],
  // An allowed host list never lets an always-refused address through.
  ['http://169.254.169.254/', { ...local, hosts: ['169.254.0.0/16'] }, metadata],
];

describe('checkUri', () => {
  for (const [uri, policy, expected] of cases) {
    const name = policy === cluster ? 'cluster' : policy === local ? 'local' : JSON.stringify(policy);
    test(`${uri} under ${name} is ${expected ? 'refused' : 'allowed'}`, () => {
      const reason = checkUri(policy, uri, 'spec.data.current.uri');
      if (expected === undefined) return assert.equal(reason, undefined);
      assert.ok(reason, `${uri} should be refused`);
      assert.ok(reason.startsWith('spec.data.current.uri: '), reason);
      assert.ok(!reason.includes('\n'), reason);
      assert.match(reason, expected);
    });
  }

  test('the reason names the field and the URI, with its password redacted', () => {
    assert.equal(
      checkUri(local, 'https://169.254.169.254/x', 'spec.data.current.uri'),
      'spec.data.current.uri: https://169.254.169.254/x is refused: its host 169.254.169.254 is a cloud metadata address (always refused)',
    );
    assert.equal(
      checkUri(cluster, 'file:///etc/passwd', 'spec.teacher.uri'),
      "spec.teacher.uri: file:///etc/passwd is refused: scheme file:// is not allowed (allowed: pvc, configmap, https, http, s3; the operator's --egress-schemes)",
    );
    const reason =
      checkUri(cluster, 'https://user:s3cret@127.0.0.1/hook', 'spec.retraining.webhook.url') ?? '';
    assert.ok(reason.startsWith('spec.retraining.webhook.url: https://user:***@127.0.0.1/hook is refused'));
    assert.ok(!reason.includes('s3cret'));
    assert.match(
      checkUri(cluster, 'http://2852039166/')!,
      /^http:\/\/2852039166\/ is refused: its host 169\.254\.169\.254/,
    );
  });
});

describe('classifyAddress', () => {
  const addresses: [string, AddressKind | undefined][] = [
    ['169.254.169.254', 'metadata'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['[fd00:ec2::254]', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['169.254.0.1', 'link-local'],
    ['169.254.255.255', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['::', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['fc00::1', 'private'],
    ['fd00:ec2::1', 'private'],
    ['224.0.0.251', 'non-unicast'],
    ['255.255.255.255', 'non-unicast'],
    ['ff02::1', 'non-unicast'],
    ['172.15.255.255', 'public'],
    ['172.32.0.0', 'public'],
    ['100.128.0.1', 'public'],
    ['169.253.255.255', 'public'],
    ['8.8.8.8', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['fec0::1', 'private'],
    ['metadata.google.internal', undefined],
    ['2852039166', undefined],
    ['0xa9.0xfe.0xa9.0xfe', undefined],
  ];
  for (const [address, kind] of addresses)
    test(`${address} is ${kind ?? 'not an IP literal'}`, () => assert.equal(classifyAddress(address), kind));
});

describe('policies from flags and from the environment', () => {
  test('flags are comma lists; an absent flag keeps the default', () => {
    assert.deepEqual(egressPolicyFromFlags({}, cluster), cluster);
    assert.deepEqual(
      egressPolicyFromFlags(
        {
          schemes: ' HTTPS, pvc ,,',
          hosts: '*.models.example.com,10.0.0.0/8, fd00::/8 ,192.0.2.1',
          allowLoopback: 'true',
          allowPrivate: false,
        },
        cluster,
      ),
      {
        schemes: ['https', 'pvc'],
        hosts: ['*.models.example.com', '10.0.0.0/8', 'fd00::/8', '192.0.2.1'],
        allowLoopback: true,
        allowPrivate: false,
      },
    );
  });

  test('invalid flags are errors that name the flag', () => {
    const refused: [Parameters<typeof egressPolicyFromFlags>[0], RegExp][] = [
      [{ schemes: 'gs' }, /^Error: --egress-schemes: unknown scheme 'gs'/],
      [{ schemes: ' , ' }, /^Error: --egress-schemes: empty/],
      [{ hosts: '10.0.0.0/33' }, /^Error: --egress-hosts: '10\.0\.0\.0\/33' is not a host name/],
      [{ hosts: 'http://x.example.com' }, /^Error: --egress-hosts: /],
      [{ hosts: '' }, /^Error: --egress-hosts: empty; name at least one host pattern \(\* for any\)/],
      [{ allowLoopback: 'yes' }, /^Error: --egress-allow-loopback: expected true or false, got "yes"/],
      [{ allowPrivate: '1' }, /^Error: --egress-allow-private: expected true or false/],
    ];
    for (const [flags, message] of refused)
      assert.throws(() => egressPolicyFromFlags(flags, cluster), message);
    assert.deepEqual(Object.values(egressFlags), [
      '--egress-schemes',
      '--egress-hosts',
      '--egress-allow-loopback',
      '--egress-allow-private',
    ]);
  });

  test('the environment carries the operator policy to evaluation pods; a bad value is an error', () => {
    const policy: EgressPolicy = {
      schemes: ['https'],
      hosts: ['*.example.com'],
      allowLoopback: false,
      allowPrivate: false,
    };
    assert.deepEqual(
      egressPolicyFromEnvironment({ [egressPolicyEnv]: encodeEgressPolicy(policy) }, local),
      policy,
    );
    assert.equal(egressPolicyFromEnvironment({}, local), local);
    assert.throws(
      () => egressPolicyFromEnvironment({ [egressPolicyEnv]: '{schemes' }, local),
      /^Error: PRUNEGUARD_EGRESS_POLICY: not JSON/,
    );
    assert.throws(
      () =>
        egressPolicyFromEnvironment({ [egressPolicyEnv]: JSON.stringify({ ...policy, hosts: 'x' }) }, local),
      /^Error: PRUNEGUARD_EGRESS_POLICY\.hosts: expected a list of strings/,
    );
    assert.throws(
      () => egressPolicyFromEnvironment({ [egressPolicyEnv]: JSON.stringify({ schemes: ['https'] }) }, local),
      /PRUNEGUARD_EGRESS_POLICY\.hosts/,
    );
  });
});

/** A resolver that answers from a table and never touches DNS. */
function fakeResolver(answers: Record<string, string[]>, asked: string[] = []): Resolver {
  return (hostname, _options, callback) => {
    asked.push(hostname);
    const addresses = answers[hostname];
    if (!addresses)
      return callback(Object.assign(new Error(`no answer for ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(
      null,
      addresses.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 })),
    );
  };
}

function lookUp(
  lookup: net.LookupFunction,
  hostname: string,
  options: dns.LookupOptions,
): Promise<{ error: Error | null; address: string | dns.LookupAddress[]; family?: number }> {
  return new Promise((resolve) =>
    lookup(hostname, options, (error, address, family) => resolve({ error, address, family })),
  );
}

describe('egressLookup (a fake resolver: no DNS, no sockets)', () => {
  const answers = {
    'models.example.com': ['93.184.216.34', '2606:2800:220:1::1'],
    'rebound.example.com': ['169.254.169.254'],
    'mixed.example.com': ['93.184.216.34', '10.0.0.7'],
    'mapped.example.com': ['::ffff:169.254.169.254'],
    'svc.example.com': ['10.96.0.10'],
  };

  test('a name that resolves to a metadata, link-local or refused private address is refused', async () => {
    const refused: [EgressPolicy, string, RegExp][] = [
      [
        local,
        'rebound.example.com',
        /rebound\.example\.com resolves to 169\.254\.169\.254, a cloud metadata address/,
      ],
      [local, 'mapped.example.com', /\(IPv4 169\.254\.169\.254\), a cloud metadata address/],
      [noPrivate, 'mixed.example.com', /resolves to 10\.0\.0\.7, a private address/],
      [noPrivate, 'svc.example.com', /resolves to 10\.96\.0\.10, a private address/],
    ];
    for (const [policy, hostname, message] of refused) {
      for (const all of [true, false]) {
        const { error } = await lookUp(egressLookup(policy, fakeResolver(answers)), hostname, { all });
        assert.ok(error instanceof EgressRefusedError, `${hostname} should be refused`);
        assert.match(error.message, message);
      }
    }
  });

  test('allowed names resolve as node expects, with all or one address', async () => {
    const lookup = egressLookup(cluster, fakeResolver(answers));
    const all = await lookUp(lookup, 'models.example.com', { all: true });
    assert.equal(all.error, null);
    assert.deepEqual(all.address, [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ]);
    const one = await lookUp(lookup, 'svc.example.com', {});
    assert.deepEqual([one.error, one.address, one.family], [null, '10.96.0.10', 4]);
    const missing = await lookUp(lookup, 'nowhere.example.com', {});
    assert.equal((missing.error as NodeJS.ErrnoException).code, 'ENOTFOUND');
  });

  test('metadata names and hosts outside the policy are refused without resolving them', async () => {
    const asked: string[] = [];
    const resolver = fakeResolver({ 'metadata.google.internal': ['93.184.216.34'] }, asked);
    const byName = await lookUp(egressLookup(local, resolver), 'metadata.google.internal.', { all: true });
    assert.match(byName.error!.message, /metadata\.google\.internal is a cloud metadata endpoint/);
    const outside = await lookUp(egressLookup(onlyExample, resolver), 'svc.example.com', { all: true });
    assert.match(outside.error!.message, /svc\.example\.com is not an allowed host/);
    assert.deepEqual(asked, []);
  });
});

/** A loopback HTTP server that counts the connections it accepts. */
async function countingServer(
  handler: http.RequestListener,
  host = '127.0.0.1',
): Promise<{ url: string; port: number; connections: () => number; close: () => void }> {
  const server = http.createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    connections: () => connections,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const ok: http.RequestListener = (_request, response) => response.end('ok');
const noLoopback: EgressPolicy = { ...local, allowLoopback: false };

describe('connecting (loopback servers only)', () => {
  test('the guarded lookup stops localhost before connecting when loopback is refused', async () => {
    const server = await countingServer(ok);
    const get = (policy: EgressPolicy) =>
      new Promise<number>((resolve, reject) => {
        const request = http.request(
          { host: 'localhost', port: server.port, path: '/', agent: false, lookup: egressLookup(policy) },
          (response) => {
            response.resume();
            resolve(response.statusCode!);
          },
        );
        request.on('error', reject);
        request.end();
      });
    try {
      await assert.rejects(get(noLoopback), (error: Error) => {
        assert.ok(error instanceof EgressRefusedError);
        assert.match(error.message, /localhost resolves to 127\.0\.0\.1, a loopback address/);
        return true;
      });
      assert.equal(server.connections(), 0);
      // The same request with loopback allowed does connect: the count above would have seen it.
      assert.equal(await get(local), 200);
      assert.equal(server.connections(), 1);
    } finally {
      server.close();
    }
  });

  test('an IP literal, which node connects to without a lookup, is checked before connecting', async () => {
    const server = await countingServer(ok);
    try {
      await assert.rejects(
        egressRequest(noLoopback, `${server.url}/hook`),
        (error: Error) =>
          error instanceof EgressRefusedError &&
          error.message.startsWith(`${server.url}/hook is refused: its host 127.0.0.1 is a loopback address`),
      );
      await assert.rejects(postJson(local, `http://0.0.0.0:${server.port}/hook`, {}), /unspecified address/);
      assert.equal(server.connections(), 0);
      assert.equal((await egressRequest(local, `${server.url}/hook`)).status, 200);
      assert.equal(server.connections(), 1);
    } finally {
      server.close();
    }
  });

  test('a name that passed checkUri but resolves to a refused address at connection time is stopped', async () => {
    const server = await countingServer(ok);
    const policy: EgressPolicy = { ...local, hosts: ['localhost'] };
    const url = `http://localhost:${server.port}/hook`;
    try {
      assert.equal(checkUri(policy, url), undefined);
      // DNS rebinding: the answer at connection time is not the one anyone checked. 0.0.0.0 is
      // always refused, and reaches only this machine if the guard ever let it through.
      const rebound = fakeResolver({ localhost: ['0.0.0.0'] });
      await assert.rejects(
        egressRequest(policy, url, { resolve: rebound }),
        (error: Error) =>
          error instanceof EgressRefusedError &&
          error.message ===
            `${url}: connection refused by the egress policy: localhost resolves to 0.0.0.0, an unspecified address (always refused)`,
      );
      assert.equal(server.connections(), 0);
    } finally {
      server.close();
    }
  });

  test('a redirect is an error naming its Location, and is not followed', async () => {
    const target = await countingServer(ok, '127.0.0.2');
    const redirecting = await countingServer((request, response) => {
      const status = Number(request.url!.slice(1));
      response.writeHead(status, { location: `${target.url}/secret` }).end();
    });
    const policy: EgressPolicy = { ...local, hosts: ['127.0.0.1'] };
    try {
      assert.match(checkUri(policy, `${target.url}/secret`)!, /127\.0\.0\.2 is not an allowed host/);
      for (const status of [301, 302, 303, 307, 308]) {
        await assert.rejects(
          egressRequest(policy, `${redirecting.url}/${status}`, { method: 'POST', body: '{}' }),
          new Error(
            `${redirecting.url}/${status}: HTTP ${status} redirects to ${target.url}/secret; redirects are not followed, use the final URL`,
          ),
        );
      }
      assert.equal(redirecting.connections(), 5);
      assert.equal(target.connections(), 0);
    } finally {
      target.close();
      redirecting.close();
    }
  });

  test('a server that accepts and never answers fails within the timeout, naming the URL', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/hook`;
    const started = Date.now();
    try {
      await assert.rejects(postJson(local, url, { run: 'r1' }, {}, 300), {
        message: `${url}: no complete answer within 300 ms`,
      });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 2_000, `took ${elapsed} ms`);
    } finally {
      silent.close();
    }
  });

  test('the timeout covers connecting, TLS, the response head and the body; a slow answer within it succeeds', async () => {
    const unaccepting = await unacceptingServer();
    const silent = await silentServer();
    const headOnly = await httpServer(headersThenSilence('{"queued":'));
    const trickle = await httpServer(dribble(Buffer.alloc(0), 1, 20, true));
    const slow = await httpServer(dribble(Buffer.from('{"queued":true}'), 5, 40));
    const within = async (request: Promise<unknown>, message: string, limitMs: number) => {
      const started = Date.now();
      await assert.rejects(request, { message });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= limitMs - 50 && elapsed < limitMs + 1_500, `${message}: took ${elapsed} ms`);
    };
    try {
      const unreachable = `${unaccepting.url}/hook`;
      await within(
        egressRequest(local, unreachable, { method: 'POST', timeoutMs: 2_000, connectTimeoutMs: 200 }),
        `${unreachable}: not connected within 200 ms`,
        200,
      );
      for (const url of [
        unreachable,
        `https://127.0.0.1:${silent.port}/hook`,
        `${headOnly.url}/hook`,
        `${trickle.url}/hook`,
      ])
        await within(
          postJson(local, url, { run: 'r1' }, {}, 300),
          `${url}: no complete answer within 300 ms`,
          300,
        );
      assert.deepEqual(await postJson(local, `${slow.url}/hook`, { run: 'r1' }, {}, 2_000), {
        status: 200,
        statusText: 'OK',
      });
    } finally {
      for (const server of [unaccepting, silent, headOnly, trickle, slow]) server.close();
    }
  });

  test('the body is capped; the status and headers still come back', async () => {
    const big = Buffer.alloc(100 * 1024, 'x');
    const server = await countingServer((request, response) =>
      response
        .writeHead(request.url === '/small' ? 201 : 200, { 'x-run': 'r1' })
        .end(request.url === '/small' ? 'done' : big),
    );
    try {
      const capped = await egressRequest(local, `${server.url}/big`, { maxResponseBytes: 1000 });
      assert.deepEqual(
        [capped.status, capped.body.length, capped.truncated, capped.headers['x-run']],
        [200, 1000, true, 'r1'],
      );
      const byDefault = await egressRequest(local, `${server.url}/big`);
      assert.deepEqual([byDefault.body.length, byDefault.truncated], [64 * 1024, true]);
      const small = await egressRequest(local, `${server.url}/small`);
      assert.deepEqual(
        [small.status, small.statusText, small.body.toString(), small.truncated],
        [201, 'Created', 'done', false],
      );
    } finally {
      server.close();
    }
  });

  test('postJson sends JSON with the given headers and reports the status', async () => {
    let received: { method?: string; headers?: http.IncomingHttpHeaders; body?: string } = {};
    const server = await countingServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received = {
          method: request.method,
          headers: request.headers,
          body: Buffer.concat(chunks).toString(),
        };
        response.writeHead(503).end('busy');
      });
    });
    try {
      const answer = await postJson(
        local,
        `${server.url}/hook`,
        { run: 'r1' },
        { 'idempotency-key': 'r1' },
        2_000,
      );
      assert.deepEqual(answer, { status: 503, statusText: 'Service Unavailable' });
      assert.equal(received.method, 'POST');
      assert.equal(received.headers?.['content-type'], 'application/json');
      assert.equal(received.headers?.['idempotency-key'], 'r1');
      assert.deepEqual(JSON.parse(received.body!), { run: 'r1' });
    } finally {
      server.close();
    }
  });
});
