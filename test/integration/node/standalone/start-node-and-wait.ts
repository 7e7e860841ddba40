/**
 * Starts a control plane with a real node, runs one pod to completion (a veth, a sandbox, mounts),
 * prints `ready`, then waits to be killed: machine-restored.test.ts kills it with SIGKILL, as a
 * crashed test process, and checks that the next run cleans up after it.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startRealNodeCluster } from '../../../support/real-node-cluster.js';

const ground = await startRealNodeCluster();
const kubectl = (...args: string[]) =>
  execFileSync(
    path.join(ground.plane.binDir, 'kubectl'),
    ['--kubeconfig', ground.plane.kubeconfigPath, ...args],
    {
      encoding: 'utf8',
    },
  );
kubectl(
  'run',
  'probe',
  `--image=${ground.image}`,
  '--image-pull-policy=Never',
  '--restart=Never',
  '--',
  '--help',
);
kubectl('wait', 'pod/probe', '--for=jsonpath={.status.phase}=Succeeded', '--timeout=120s');
console.log('ready');
setInterval(() => undefined, 60_000);
