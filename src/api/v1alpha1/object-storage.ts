/**
 * spec.s3: how the evaluator reaches `s3://<bucket>/<key>` models and data, and the one place that
 * says which URL such an object is fetched from. The egress policy checks that URL's host, not the
 * bucket's name (a bucket is not where bytes go), and the reader hands the SDK the same endpoint
 * and addressing style, so the check and the connection cannot disagree.
 */
import net from 'node:net';

import { Type, type Static } from '@sinclair/typebox';
import { object, resourceName } from './core.js';

/** AWS's region when spec.s3 names none (also for s3:// URIs without spec.s3). */
export const defaultS3Region = 'us-east-1';

/**
 * The keys of spec.s3.credentialsSecret, which are also the names of the evaluator's environment
 * variables: the Job maps one onto the other (secretKeyRef), and the reader reads them there.
 */
export const s3CredentialKeys = {
  accessKeyId: 'AWS_ACCESS_KEY_ID',
  secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN',
} as const;

export const S3 = object(
  {
    endpoint: Type.Optional(
      Type.String({
        pattern: '^https?://[^/?#@]+(/[^?#]*)?$',
        maxLength: 2048,
        description:
          'The S3 API endpoint, e.g. http://seaweedfs.storage:8333 or https://minio.example.com; absent: AWS, https://s3.<region>.amazonaws.com. Its host is what the egress policy checks.',
      }),
    ),
    region: Type.String({
      minLength: 1,
      maxLength: 64,
      pattern: '^[a-z0-9-]+$',
      default: defaultS3Region,
      description: 'The region requests are signed for (and, without endpoint, the AWS region).',
    }),
    forcePathStyle: Type.Boolean({
      default: false,
      description:
        'true: requests go to <endpoint>/<bucket>/<key> (MinIO, SeaweedFS and most on-premises stores); false: to <bucket>.<endpoint host>/<key> where the bucket name allows it, as AWS prefers.',
    }),
    credentialsSecret: Type.Optional(
      resourceName(
        `A Secret in the evaluation's namespace with keys ${s3CredentialKeys.accessKeyId}, ${s3CredentialKeys.secretAccessKey} and optionally ${s3CredentialKeys.sessionToken}, labelled pruneguard.io/credentials: "true"; absent: anonymous (unsigned) requests.`,
      ),
    ),
  },
  { description: 'Where s3:// models and data are read from. s3:// works without it: AWS, anonymous.' },
);

export type S3Options = Static<typeof S3>;

/** An `s3://` URI's parts; the key is taken as written, like the AWS CLI does (no percent-decoding). */
export interface S3Location {
  bucket: string;
  key: string;
}

/** The bucket and key of an s3:// URI; throws, naming the URI and the form, when either is missing. */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/?#]+)\/(.+)$/i.exec(uri);
  if (!match) throw new Error(`${uri}: not an S3 object URI; write s3://<bucket>/<key>`);
  return { bucket: match[1]!, key: match[2]! };
}

/** The endpoint requests go to: spec.s3.endpoint, else AWS's for the region. */
export function s3Endpoint(options: Partial<S3Options> | undefined): string {
  return options?.endpoint ?? `https://s3.${options?.region ?? defaultS3Region}.amazonaws.com`;
}

/**
 * The URL a request for `location` goes to. Virtual-hosted style (the bucket as a subdomain of the
 * endpoint's host) unless path style is forced, the endpoint's host is an IP address, or the bucket
 * is not one lowercase DNS label: the rules of the SDK's S3 endpoint resolver for an explicit
 * endpoint (test/unit/api/object-storage.test.ts compares the two).
 */
export function s3ObjectUrl(location: S3Location, options: Partial<S3Options> | undefined): URL {
  const endpoint = new URL(s3Endpoint(options));
  const base = endpoint.pathname.replace(/\/+$/, '');
  const virtualHosted =
    !options?.forcePathStyle &&
    !net.isIP(endpoint.hostname.replace(/^\[|\]$/g, '')) &&
    /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(location.bucket);
  const url = new URL(endpoint.origin);
  if (virtualHosted) {
    url.hostname = `${location.bucket}.${endpoint.hostname}`;
    url.pathname = `${base}/${location.key}`;
  } else {
    url.pathname = `${base}/${location.bucket}/${location.key}`;
  }
  return url;
}
