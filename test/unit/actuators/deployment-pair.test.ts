import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import type { Intent, TargetVerb } from '../../../src/actuators/actuator.js';
import {
  decidePair,
  pairState,
  promotedTemplate,
  rolledBackAnnotation,
  type PairWrites,
} from '../../../src/actuators/deployment-pair.js';

function deployment(name: string, replicas: number, annotations: Record<string, string> = {}): V1Deployment {
  return {
    metadata: {
      name,
      resourceVersion: '3',
      annotations: { 'deployment.kubernetes.io/revision': '2', ...annotations },
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, tier: name === 'web' ? 'stable' : 'canary' } },
        spec: { containers: [{ name: 'model', image: `${name}:1` }] },
      },
    },
  };
}

const intent = (verb: TargetVerb, retryAborted = false): Intent => ({
  run: 'web-00002',
  verb,
  revision: '2',
  retryAborted,
});
const decide = decidePair(25);

function writes(verb: TargetVerb, stable: V1Deployment, canary: V1Deployment): PairWrites {
  const decision = decide(intent(verb), pairState(stable, canary));
  assert.equal(decision.kind, 'write', decision.detail);
  return (decision as { writes: PairWrites }).writes;
}

describe('what a verdict means for a stable/canary Deployment pair', () => {
  it('Advance moves stepWeight% of the pair, scaling the canary up first', () => {
    const w = writes('Advance', deployment('web', 3), deployment('web-canary', 1));
    assert.equal(w.canary.spec?.replicas, 2);
    assert.equal(w.stable.spec?.replicas, 2);
    assert.equal(w.canaryFirst, true);
    assert.equal(w.canary.metadata?.annotations?.['pruneguard.io/last-action'], 'web-00002/Advance@canary=2');
  });

  it('a stamped Advance aims at the split it stamped, so a repeat does not move twice', () => {
    const canary = deployment('web-canary', 2, {
      'pruneguard.io/last-action': 'web-00002/Advance@canary=2',
      'pruneguard.io/pair-replicas': '4',
    });
    // The canary half was written, the stable half not (a crash between the two writes).
    const w = writes('Advance', deployment('web', 3), canary);
    assert.equal(w.canary.spec?.replicas, 2);
    assert.equal(
      w.stable.spec?.replicas,
      2,
      'total from the annotation-less sum would be 5; the stamp keeps 2',
    );
  });

  it('Promote gives stable the canary template under its own selector labels', () => {
    const stable = deployment('web', 3);
    const canary = deployment('web-canary', 1);
    const template = promotedTemplate(stable, canary);
    assert.deepEqual(template.metadata?.labels, { app: 'web', tier: 'canary' });
    assert.equal(template.spec?.containers[0]?.image, 'web-canary:1');
    const w = writes('Promote', stable, canary);
    assert.deepEqual(w.stable.spec?.template, template);
    assert.deepEqual(w.stable.spec?.selector, stable.spec?.selector, 'the selector is untouched');
    assert.equal(w.stable.spec?.replicas, 4);
    assert.equal(w.canary.spec?.replicas, 0);
    assert.equal(w.canaryFirst, false, 'stable scales up before the canary goes');
  });

  it('Rollback scales the canary to 0 and marks its revision; a later Pass does not bring it back', () => {
    const w = writes('Rollback', deployment('web', 3), deployment('web-canary', 1));
    assert.equal(w.canary.spec?.replicas, 0);
    assert.equal(w.stable.spec?.replicas, 4);
    assert.equal(w.canary.metadata?.annotations?.[rolledBackAnnotation], '2');
    const rolledBack = pairState(deployment('web', 4), {
      ...w.canary,
      metadata: {
        ...w.canary.metadata,
        annotations: { ...w.canary.metadata?.annotations, 'pruneguard.io/last-action': 'web-00001/Rollback' },
      },
    });
    assert.equal(decide(intent('Advance'), rolledBack).kind, 'skip');
    const retried = decide(intent('Advance', true), rolledBack);
    assert.equal(retried.kind, 'write');
  });

  it('Hold writes nothing', () => {
    assert.equal(
      decide(intent('Hold'), pairState(deployment('web', 3), deployment('web-canary', 1))).kind,
      'confirm',
    );
  });
});
