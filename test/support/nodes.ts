import type { V1Node } from '@kubernetes/client-node';

/** kwok only manages nodes carrying this annotation, so the harness never touches anything else. */
export const kwokNodeAnnotation = { 'kwok.x-k8s.io/node': 'fake' };

export const gpuResource = 'nvidia.com/gpu';
export const gpuPresentLabel = 'nvidia.com/gpu.present';

export interface FakeNodeShape {
  cpuNodes: number;
  gpuNodes: number;
}

function fakeNode(name: string, gpus: number): V1Node {
  const capacity: Record<string, string> = { cpu: '8', memory: '32Gi', pods: '110' };
  if (gpus > 0) capacity[gpuResource] = String(gpus);
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { ...kwokNodeAnnotation },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
        ...(gpus > 0 ? { [gpuPresentLabel]: 'true' } : {}),
      },
    },
    spec: gpus > 0 ? { taints: [{ key: gpuResource, value: 'present', effect: 'NoSchedule' }] } : {},
    status: { capacity, allocatable: capacity },
  };
}

/** CPU nodes `kwok-cpu-N` and GPU nodes `kwok-gpu-N` (4 GPUs each, labelled and tainted like the NVIDIA GPU operator does). */
export function fakeNodes(shape: FakeNodeShape): V1Node[] {
  const cpu = Array.from({ length: shape.cpuNodes }, (_, i) => fakeNode(`kwok-cpu-${i}`, 0));
  const gpu = Array.from({ length: shape.gpuNodes }, (_, i) => fakeNode(`kwok-gpu-${i}`, 4));
  return [...cpu, ...gpu];
}
