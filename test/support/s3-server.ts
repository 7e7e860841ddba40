/**
 * A real S3 server for the object-storage tests: SeaweedFS's `weed mini` (master, volume server,
 * filer and S3 gateway in one process), built by hack/seaweedfs/build.sh, on free loopback ports,
 * with its data in a temporary directory removed at stop. Its S3 identities (`-s3.config`) are an
 * admin with random keys, a reader that may read only the `readable` bucket, and anonymous reads of
 * the `public` bucket. Buckets and objects are made through the AWS SDK, as a user would.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

import { freePorts, killGroupNow, spawnTied, terminate } from './controlplane.js';
import { stopOnExit } from './stop-on-exit.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where `weed` is; `hack/seaweedfs/build.sh` builds or reuses it when unset. */
export const s3ServerEnv = 'PRUNEGUARD_SEAWEEDFS_DIR';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3Server {
  /** http://127.0.0.1:<port>, path style. */
  readonly endpoint: string;
  /** May do anything. */
  readonly admin: S3Credentials;
  /** May read and list only the bucket `readable`. */
  readonly reader: S3Credentials;
  /** The server's log (stdout and stderr). */
  readonly logFile: string;
  /** An SDK client as `credentials`. */
  client(credentials?: S3Credentials): S3Client;
  createBucket(bucket: string): Promise<void>;
  putObject(bucket: string, key: string, body: Uint8Array | string): Promise<void>;
  stop(): Promise<void>;
}

let built: Promise<string> | undefined;

export function seaweedfsDir(): Promise<string> {
  const fromEnv = process.env[s3ServerEnv];
  if (fromEnv) return Promise.resolve(fromEnv);
  built ??= promisify(execFile)('bash', [path.join(repoRoot, 'hack/seaweedfs/build.sh')], {
    maxBuffer: 16 * 1024 * 1024,
  }).then(({ stdout }) => stdout.trim().split('\n').at(-1)!);
  return built;
}

const keys = (): S3Credentials => ({
  accessKeyId: `PG${randomBytes(9).toString('hex').toUpperCase()}`,
  secretAccessKey: randomBytes(30).toString('base64url'),
});

export async function startS3Server(): Promise<S3Server> {
  const weed = path.join(await seaweedfsDir(), 'weed');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pruneguard-s3-'));
  const admin = keys();
  const reader = keys();
  const config = path.join(dir, 's3.json');
  await writeFile(
    config,
    JSON.stringify({
      identities: [
        { name: 'admin', credentials: [admin].map(asSeaweed), actions: ['Admin', 'Read', 'List', 'Write'] },
        { name: 'reader', credentials: [reader].map(asSeaweed), actions: ['Read:readable', 'List:readable'] },
        { name: 'anonymous', actions: ['Read:public'] },
      ],
    }),
  );
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = await freePorts(8);
  const logFile = path.join(dir, 'weed.log');
  const child = spawnTied(
    weed,
    [
      'mini',
      `-dir=${dir}`,
      '-ip=127.0.0.1',
      '-ip.bind=127.0.0.1',
      `-master.port=${master}`,
      `-master.port.grpc=${masterGrpc}`,
      '-master.telemetry=false',
      `-volume.port=${volume}`,
      `-volume.port.grpc=${volumeGrpc}`,
      `-filer.port=${filer}`,
      `-filer.port.grpc=${filerGrpc}`,
      `-s3.port=${s3}`,
      `-s3.port.grpc=${s3Grpc}`,
      '-s3.port.iceberg=0',
      '-s3.port.lance=0',
      `-s3.config=${config}`,
      '-webdav=false',
      '-admin.ui=false',
    ],
    { cwd: dir, logFile },
  );
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    unregister();
    await terminate(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = stopOnExit(() => {
    killGroupNow(child);
    rmSync(dir, { recursive: true, force: true });
  });
  const endpoint = `http://127.0.0.1:${s3}`;
  // As src/evaluator/sources/s3.ts does: the pinned SDK's notice about its later releases is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = (credentials: S3Credentials = admin) =>
    new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
      // SeaweedFS takes plain uploads; the SDK's default trailing checksums are not what this test is about.
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  const server: S3Server = {
    endpoint,
    admin,
    reader,
    logFile,
    client,
    async createBucket(bucket) {
      await client()
        .send(new CreateBucketCommand({ Bucket: bucket }))
        .catch((error: Error) => {
          if (error.name !== 'BucketAlreadyOwnedByYou') throw error;
        });
    },
    async putObject(bucket, key, body) {
      await client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    stop,
  };
  try {
    await untilReady(server, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return server;
}

function asSeaweed(credentials: S3Credentials) {
  return { accessKey: credentials.accessKeyId, secretKey: credentials.secretAccessKey };
}

/** Until a bucket can be created and written (the S3 gateway answers before the filer and volume are up). */
async function untilReady(server: S3Server, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  let last: unknown;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `weed mini exited (${child.exitCode ?? child.signalCode}); log:\n${tail(server.logFile)}`,
      );
    try {
      await server.createBucket('ready');
      await server.putObject('ready', 'probe', 'ok');
      return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `weed mini's S3 gateway at ${server.endpoint} not ready in 120 s (${(last as Error).message}); log:\n${tail(server.logFile)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '(no log)';
  }
}
