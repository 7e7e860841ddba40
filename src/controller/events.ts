import { fieldManager } from '../actuators/kubernetes.js';
import { randomBytes } from 'node:crypto';
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** Kubernetes Events for `kubectl describe`. Failing to record one is logged, never fatal. */
export class EventRecorder {
  constructor(
    private readonly core: CoreV1Api,
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  async record(
    object: InvolvedObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const now = new Date();
    const namespace = object.metadata.namespace!;
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: {
            name: `${object.metadata.name}.${now.getTime().toString(16)}${randomBytes(2).toString('hex')}`,
            namespace,
          },
          involvedObject: {
            apiVersion: object.apiVersion,
            kind: object.kind,
            name: object.metadata.name,
            namespace,
            uid: object.metadata.uid,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
          source: { component: 'pruneguard' },
          reportingComponent: 'pruneguard.io/operator',
          reportingInstance: this.instance,
        },
        fieldManager,
      });
    } catch (error) {
      this.log.warn({ err: error, reason }, 'could not record event');
    }
  }
}
