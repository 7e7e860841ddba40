import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';

import {
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';

import {
  defaultS3Region,
  parseS3Uri,
  s3CredentialKeys,
  s3Endpoint,
  type S3Location,
  type S3Options,
} from '../../api/v1alpha1/object-storage.js';
import { EgressRefusedError, egressLookup, type EgressPolicy } from '../../security/egress.js';
import { deadlineMessage } from '../deadline.js';
import { seconds, sourceTimeouts, type Source, type SourceOptions, type SourceTimeouts } from './source.js';

/** A few tries ride out a dropped connection or a 503 SlowDown; more would hide a dead endpoint. */
const maxAttempts = 3;

type Environment = Record<string, string | undefined>;

/**
 * `s3://<bucket>/<key>` through the AWS SDK, at the endpoint spec.s3 names (AWS's for its region
 * when it names none): size is HeadObject, streaming one GetObject, and random reads GetObject with
 * a Range, so Parquet reads its footer and row groups without downloading the whole object.
 * Connections go through the egress policy's address check (`egressLookup`) on the agents the SDK
 * uses, after `checkUri` checked the endpoint's host; connect and idle timeouts and the evaluation's
 * deadline hold as for https://. Errors name the URI and never carry the credentials.
 */
export function s3Source(
  uri: string,
  policy: EgressPolicy,
  options: SourceOptions = {},
  env: Environment = process.env,
): Source & { version(): Promise<string> } {
  const location = parseS3Uri(uri);
  const limits = sourceTimeouts(options);
  const endpoint = s3Endpoint(options.s3);
  const credentials = credentialsFromEnvironment(uri, env);
  const secrets = [credentials?.accessKeyId, credentials?.secretAccessKey, credentials?.sessionToken];
  let client: S3Client | undefined;
  const fail = (error: unknown): Error =>
    s3Failure(error, { uri, location, endpoint, signed: credentials !== undefined, limits, secrets });
  const call: Call = async (request) => {
    client ??= s3Client(policy, options.s3, limits, credentials);
    try {
      return await request(client, options.deadline ? { abortSignal: options.deadline } : {});
    } catch (error) {
      if (options.deadline?.aborted) throw new Error(`${uri}: ${deadlineMessage(options.deadline)}`);
      throw error;
    }
  };
  const get = async (range?: string) => {
    const object = { Bucket: location.bucket, Key: location.key, ...(range ? { Range: range } : {}) };
    const response = await call((s3, sendOptions) =>
      s3.send(new GetObjectCommand(object), sendOptions),
    ).catch((error: unknown) => {
      throw fail(error);
    });
    return { status: response.$metadata.httpStatusCode, body: response.Body as Readable };
  };

  /** HeadObject, its failures told apart as for every read. */
  const head = async () => {
    try {
      return await call((s3, sendOptions) =>
        s3.send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key }), sendOptions),
      );
    } catch (error) {
      // HEAD answers carry no error code: a 404 is a missing key or a missing bucket, and HeadBucket tells which.
      if (statusOf(error) === 404 && (await bucketMissing(call, location.bucket)))
        throw fail(Object.assign(new Error('no such bucket'), { name: 'NoSuchBucket' }));
      throw fail(error);
    }
  };

  return {
    uri,
    async size() {
      const { ContentLength } = await head();
      if (ContentLength === undefined) throw new Error(`${uri}: the server sent no Content-Length`);
      return ContentLength;
    },
    /**
     * The object's ETag (else Last-Modified) from one HeadObject, for the operator's data-change
     * watch (src/controller/data-versions.ts); the client is closed after it.
     */
    async version() {
      try {
        const { ETag, LastModified } = await head();
        if (ETag) return `ETag ${ETag}`;
        if (LastModified) return `Last-Modified ${LastModified.toUTCString()}`;
        throw new Error(`${uri}: the server sends neither ETag nor Last-Modified, so changes cannot be seen`);
      } finally {
        client?.destroy();
        client = undefined;
      }
    },
    async *stream() {
      const { body } = await get();
      yield* idleClocked(body, uri, limits, options.deadline, fail);
    },
    async read(start, end) {
      if (end <= start) return new Uint8Array(0);
      const { status, body } = await get(`bytes=${start}-${end - 1}`);
      const chunks: Uint8Array[] = [];
      for await (const chunk of idleClocked(body, uri, limits, options.deadline, fail)) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      // A server that ignores Range sends the whole object with 200.
      return status === 206 ? bytes : bytes.subarray(start, end);
    },
  };
}

/**
 * Credentials only from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), which
 * the Job fills from spec.s3.credentialsSecret, or none: then requests go unsigned.
 */
export function credentialsFromEnvironment(
  uri: string,
  env: Environment,
): { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined {
  const accessKeyId = env[s3CredentialKeys.accessKeyId] || undefined;
  const secretAccessKey = env[s3CredentialKeys.secretAccessKey] || undefined;
  const sessionToken = env[s3CredentialKeys.sessionToken] || undefined;
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined || secretAccessKey === undefined)
    throw new Error(
      `${uri}: ${accessKeyId === undefined ? s3CredentialKeys.secretAccessKey : s3CredentialKeys.accessKeyId} is set but ${accessKeyId === undefined ? s3CredentialKeys.accessKeyId : s3CredentialKeys.secretAccessKey} is not; set both (spec.s3.credentialsSecret holds both keys) or neither (anonymous)`,
    );
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

function s3Client(
  policy: EgressPolicy,
  s3: S3Options | undefined,
  limits: SourceTimeouts,
  credentials: ReturnType<typeof credentialsFromEnvironment>,
): S3Client {
  // On Node 20 the SDK warns that its later releases need Node 22; this one is pinned, so that is
  // news for whoever upgrades it (package.json), not for the person running an evaluation.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const lookup = egressLookup(policy);
  const caFile = process.env.PRUNEGUARD_HTTPS_CA_FILE;
  const ca = caFile ? [...rootCertificates, readFileSync(caFile, 'utf8')] : undefined;
  const config: S3ClientConfig = {
    region: s3?.region ?? defaultS3Region,
    // Always explicit, so AWS_ENDPOINT_URL or a profile cannot send requests where checkUri did not look.
    endpoint: s3Endpoint(s3),
    forcePathStyle: s3?.forcePathStyle ?? false,
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    maxAttempts,
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({ keepAlive: true, lookup }),
      httpsAgent: new https.Agent({ keepAlive: true, lookup, ...(ca ? { ca } : {}) }),
      connectionTimeout: limits.connectMs,
      // Until the response's head; the body has its own idle clock (`idleClocked`), which, unlike
      // a socket timeout, does not run while the evaluator is busy with the bytes it has.
      requestTimeout: limits.connectMs + limits.idleMs,
      throwOnRequestTimeout: true,
      socketTimeout: 0,
    }),
    // Never the SDK's default provider chain: it would try the instance metadata service
    // (169.254.169.254), which the egress policy refuses, and files and variables the spec author
    // never chose. Whatever asks for it gets an error instead.
    credentialDefaultProvider: () => () => Promise.reject(new Error('no S3 credentials in the environment')),
    ...(credentials
      ? { credentials }
      : {
          // Unsigned requests: the SDK has no anonymous mode, but it takes Smithy's no-auth scheme.
          httpAuthSchemes: [
            {
              schemeId: 'smithy.api#noAuth',
              identityProvider: () => async () => ({}),
              signer: { sign: async (request) => request },
            },
          ],
          httpAuthSchemeProvider: () => [{ schemeId: 'smithy.api#noAuth' }],
        }),
  };
  return new S3Client(config);
}

/** One SDK call under the evaluation's deadline. */
type Call = <T>(
  request: (client: S3Client, options: { abortSignal?: AbortSignal }) => Promise<T>,
) => Promise<T>;

async function bucketMissing(call: Call, bucket: string): Promise<boolean> {
  try {
    await call((s3, options) => s3.send(new HeadBucketCommand({ Bucket: bucket }), options));
    return false;
  } catch (error) {
    return statusOf(error) === 404;
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

interface FailureContext {
  uri: string;
  location: S3Location;
  endpoint: string;
  /** Whether requests were signed (credentials in the environment) or anonymous. */
  signed: boolean;
  limits: SourceTimeouts;
  /** Values no message may contain. */
  secrets: (string | undefined)[];
}

const deniedCodes = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'AllAccessDisabled',
]);

/** One line naming the URI and what went wrong, in the user's words, with no credential in it. */
export function s3Failure(error: unknown, context: FailureContext): Error {
  const { uri, location, endpoint, signed, limits } = context;
  const name = (error as Error).name;
  const message = (error as Error).message ?? String(error);
  const status = statusOf(error);
  if (message.startsWith(`${uri}: `)) return error as Error;
  const why = ((): string => {
    if (name === 'NoSuchBucket') return `bucket '${location.bucket}' does not exist at ${endpoint}`;
    if (name === 'NoSuchKey' || status === 404)
      return `no object '${location.key}' in bucket '${location.bucket}' at ${endpoint}`;
    if (deniedCodes.has(name) || status === 403) {
      const code = deniedCodes.has(name) ? `${name}, HTTP 403` : 'HTTP 403';
      const check = signed
        ? `check spec.s3.credentialsSecret (for pruneguard evaluate: ${s3CredentialKeys.accessKeyId} and ${s3CredentialKeys.secretAccessKey}) and that its identity may read bucket '${location.bucket}'`
        : `the request was anonymous: set spec.s3.credentialsSecret (for pruneguard evaluate: ${s3CredentialKeys.accessKeyId} and ${s3CredentialKeys.secretAccessKey})`;
      return `access denied (${code}); ${check} (S3 also answers 403 for a missing key to an identity that may not list the bucket)`;
    }
    if (name === 'TimeoutError')
      return /did not establish a connection/.test(message)
        ? `cannot reach ${endpoint}: not connected within ${seconds(limits.connectMs)}`
        : `${endpoint}: no response within ${seconds(limits.connectMs + limits.idleMs)}`;
    if (status !== undefined) return `${endpoint} answered HTTP ${status} (${name}: ${message})`;
    return `cannot reach ${endpoint}: ${message}`;
  })();
  const Failure = error instanceof EgressRefusedError ? EgressRefusedError : Error;
  return new Failure(scrub(`${uri}: ${why}`, context.secrets), { cause: error });
}

/** The text with every credential value replaced by `***`, in case a server echoed one. */
function scrub(text: string, secrets: (string | undefined)[]): string {
  return secrets.reduce<string>(
    (clean, secret) => (secret && secret.length >= 4 ? clean.split(secret).join('***') : clean),
    text,
  );
}

/**
 * A response body, each wait for a chunk on the idle clock and under the deadline; whichever fires
 * destroys the body with an error naming the URI and how many bytes had come.
 */
async function* idleClocked(
  body: Readable,
  uri: string,
  limits: SourceTimeouts,
  deadline: AbortSignal | undefined,
  fail: (error: unknown) => Error,
): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  let failure: Error | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = (why: string) => {
    failure ??= new Error(`${uri}: ${why} (response ok, ${bytes} bytes received)`);
    body.destroy(failure);
  };
  const onDeadline = () => stop(deadlineMessage(deadline!));
  if (deadline?.aborted) onDeadline();
  else deadline?.addEventListener('abort', onDeadline, { once: true });
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  try {
    for (;;) {
      timer = setTimeout(() => stop(`no data within ${seconds(limits.idleMs)}`), limits.idleMs);
      const next = await chunks.next();
      clearTimeout(timer);
      if (next.done) return;
      bytes += next.value.length;
      yield next.value;
    }
  } catch (error) {
    throw failure ?? fail(error);
  } finally {
    clearTimeout(timer);
    deadline?.removeEventListener('abort', onDeadline);
    if (!body.readableEnded) body.destroy();
  }
}
