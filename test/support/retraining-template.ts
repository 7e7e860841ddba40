type Json = Record<string, unknown>;

/**
 * A retraining Job template that Pod Security "restricted" admits; `pod`, `container` and
 * `metadata` are merged in to make one that it (or pruneguard's own admission) refuses.
 */
export function restrictedJobTemplate(pod: Json = {}, container: Json = {}, metadata?: Json): Json {
  return {
    spec: {
      template: {
        ...(metadata ? { metadata } : {}),
        spec: {
          restartPolicy: 'Never',
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'train',
              image: 'trainer:1',
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              ...container,
            },
          ],
          ...pod,
        },
      },
    },
  };
}
