import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const created: string[] = [];

/** A fresh directory under the system temp folder, removed when the test process exits. */
export async function temporaryDirectory(purpose: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `pruneguard-${purpose}-`));
  if (created.length === 0) {
    process.once('exit', () => {
      for (const d of created) rmSync(d, { recursive: true, force: true });
    });
  }
  created.push(dir);
  return dir;
}
