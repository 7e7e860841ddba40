import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { machineState } from '../../../support/machine-state.js';
import { cleanUpRealNode, realNodeNetwork } from '../../../support/real-node.js';
import { skipUnlessRealNode, startRealNodeCluster } from '../../../support/real-node-cluster.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * A real node changes sysctls, iptables, links, mounts and cgroups while it runs; once it stops,
 * or once the next run has cleaned up after a test process that was killed, the machine is as it
 * was. Runs alone (test/integration/run.ts runs node/standalone/ after every other node test).
 */
describe('the machine after a real node', { skip: skipUnlessRealNode() }, () => {
  it('is as before once the harness stops the node', async () => {
    const before = machineState();
    const ground = await startRealNodeCluster();
    try {
      assert.notDeepEqual(
        machineState(),
        before,
        'a running node changes the machine (else this test proves nothing)',
      );
    } finally {
      await ground.stop();
    }
    assert.deepEqual(machineState(), before);
  });

  it('is as before once the next run cleans up after a test process killed with its node running', async () => {
    const before = machineState();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'start-node-and-wait.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('ready')) resolve();
      });
      child.once('exit', (code) =>
        reject(new Error(`start-node-and-wait.ts exited with ${code} before it was ready`)),
      );
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    assert.ok(existsSync(`/sys/class/net/${realNodeNetwork.bridge}`), 'the killed run left its bridge');

    assert.equal(cleanUpRealNode(), true);
    assert.deepEqual(machineState(), before);
  });
});
