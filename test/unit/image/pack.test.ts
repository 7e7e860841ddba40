import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { temporaryDirectory } from '../../support/temporary-directory.js';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pack = path.join(repoRoot, 'hack/image/pack.py');

async function packed(root: string, out: string): Promise<{ bytes: Buffer; files: Map<string, Buffer> }> {
  await run('python3', [
    pack,
    '--root',
    root,
    '--dockerfile',
    path.join(repoRoot, 'Dockerfile'),
    '--tag',
    'example/pruneguard:test',
    '--output',
    out,
  ]);
  const dir = `${out}.d`;
  await mkdir(dir, { recursive: true });
  await run('tar', ['-xf', out, '-C', dir]);
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as [
    { Config: string; Layers: string[]; RepoTags: string[] },
  ];
  const files = new Map<string, Buffer>([
    ['manifest.json', await readFile(path.join(dir, 'manifest.json'))],
    ['config', await readFile(path.join(dir, manifest[0].Config))],
    ['layer', await readFile(path.join(dir, manifest[0].Layers[0]!))],
  ]);
  return { bytes: await readFile(out), files };
}

/** hack/image/pack.py: the image tarball `make image` builds, without Docker. */
describe('the image packer', () => {
  it('gives the same bytes for the same folder, whatever its mtimes, and the Dockerfile’s configuration', async () => {
    const work = await temporaryDirectory('pack');
    const root = path.join(work, 'root');
    await mkdir(path.join(root, 'usr/local/bin'), { recursive: true });
    await writeFile(path.join(root, 'usr/local/bin/tool'), '#!/bin/true\n', { mode: 0o755 });
    await symlink('/usr/local/bin/tool', path.join(root, 'usr/local/bin/pruneguard'));

    const first = await packed(root, path.join(work, 'a.tar'));
    await utimes(path.join(root, 'usr/local/bin/tool'), new Date(), new Date(2001, 1, 1));
    const second = await packed(root, path.join(work, 'b.tar'));
    assert.ok(first.bytes.equals(second.bytes), 'the tarball depends on the folder’s content only');

    const config = JSON.parse(first.files.get('config')!.toString()) as { config: Record<string, unknown> };
    const dockerfile = await readFile(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const last = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.equal(config.config.User, /^USER (.+)$/m.exec(last)![1]);
    assert.deepEqual(config.config.Entrypoint, JSON.parse(/^ENTRYPOINT (.+)$/m.exec(last)![1]!));
    assert.equal(config.config.User, '65532:65532', 'the image runs as the non-root user the chart expects');

    const layer = path.join(work, 'layer.tar');
    await writeFile(layer, first.files.get('layer')!);
    const listing = (await run('tar', ['-tvf', layer])).stdout;
    assert.match(
      listing,
      /lrwxrwxrwx 0\/0 +0 1970-01-01 00:00 usr\/local\/bin\/pruneguard -> \/usr\/local\/bin\/tool/,
    );
    assert.match(listing, /-rwxr-xr-x 0\/0 +12 1970-01-01 00:00 usr\/local\/bin\/tool/);
  });
});
