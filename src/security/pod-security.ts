/**
 * The Kubernetes Pod Security Standards "restricted" profile, checked on a pod spec that a user wrote
 * and the operator is about to create (the retraining Job), so that `create prunedmodelevaluations`
 * does not become `create privileged pods`. It is checked here, not left to the namespace's
 * pod-security label, because the namespace may enforce nothing.
 *
 * Mirrors k8s.io/pod-security-admission v0.34.9 (= Kubernetes v1.34.9,
 * kubernetes/kubernetes staging/src/k8s.io/pod-security-admission/policy/, read from
 * github.com/kubernetes/pod-security-admission branch release-1.34), at version "latest", which is what
 * a v1.34 API server enforces; and https://kubernetes.io/docs/concepts/security/pod-security-standards/.
 * Each check below names the upstream file it mirrors. As upstream's restricted level does, the
 * restricted capabilities, seccomp and volume checks replace their baseline counterparts
 * (capabilities_baseline, seccompProfile_baseline, hostPathVolumes) rather than adding to them.
 *
 * Where this differs from upstream, and why:
 * - Pod annotations (AppArmor `container.apparmor.security.beta.kubernetes.io/*`) are not seen:
 *   this takes a pod spec only.
 * - The user-namespace relaxation (`hostUsers: false` lifts runAsNonRoot, runAsUser and procMount) is
 *   not applied: in v1.34 it needs the alpha gate UserNamespacesPodSecurityStandards, off by default.
 * - Upstream reads typed Go structs; this reads unvalidated JSON, so a flag counts as on when it is
 *   anything but unset or false, and a required `true`/`false` must be exactly that. Any such value
 *   that upstream would read differently is one the API server refuses to decode anyway.
 * - Upstream reports one reason per check; this reports every offending field, so a template can be
 *   fixed in one pass. Containers that merely inherit a bad pod-level value are not listed again.
 */
import type {
  V1Capabilities,
  V1Container,
  V1EphemeralContainer,
  V1LifecycleHandler,
  V1PodSecurityContext,
  V1PodSpec,
  V1Probe,
  V1SecurityContext,
  V1Volume,
} from '@kubernetes/client-node';

export interface PodSecurityViolation {
  /** The offending field, e.g. `spec.template.spec.containers[0].securityContext.privileged`. */
  field: string;
  message: string;
}

/** What every check sees: the pod spec, where it sits in the object, and its containers with theirs. */
interface PodUnderCheck {
  spec: V1PodSpec;
  path: string;
  containers: { container: V1Container | V1EphemeralContainer; path: string }[];
  /** Upstream exempts `spec.os.name: windows` pods from the Linux-only restricted checks (since v1.25). */
  windows: boolean;
}

type Check = (pod: PodUnderCheck) => PodSecurityViolation[];

/** Checks `podSpec` against Pod Security "restricted" (v1.34); an empty list means it passes. */
export function restrictedViolations(
  podSpec: V1PodSpec,
  path = 'spec.template.spec',
): PodSecurityViolation[] {
  const pod: PodUnderCheck = {
    spec: podSpec,
    path,
    // upstream's visitContainers order
    containers: [
      ...list(podSpec.initContainers).map((container, i) => ({
        container,
        path: `${path}.initContainers[${i}]`,
      })),
      ...list(podSpec.containers).map((container, i) => ({ container, path: `${path}.containers[${i}]` })),
      ...list(podSpec.ephemeralContainers).map((container, i) => ({
        container,
        path: `${path}.ephemeralContainers[${i}]`,
      })),
    ],
    windows: podSpec.os?.name === 'windows',
  };
  return restrictedChecks.flatMap((check) => check(pod));
}

/** One line for a status condition or event: the first few violations, then a count of the rest. */
export function formatViolations(
  violations: PodSecurityViolation[],
  subject = 'retraining.jobTemplate',
  listed = 5,
): string {
  if (violations.length === 0) return `${subject} meets Pod Security "restricted"`;
  const shown = violations.slice(0, listed).map((v) => `${v.field} (${v.message})`);
  const rest = violations.length - shown.length;
  if (rest > 0) shown.push(`and ${rest} more`);
  return `${subject} violates Pod Security "restricted": ${shown.join('; ')}`;
}

// --- baseline ---

/** check_hostNamespaces.go */
const hostNamespaces: Check = ({ spec, path }) =>
  (['hostNetwork', 'hostPID', 'hostIPC'] as const)
    .filter((namespace) => isOn(spec[namespace]))
    .map((namespace) => ({ field: `${path}.${namespace}`, message: 'host namespaces are not allowed' }));

/** check_privileged.go */
const privileged: Check = ({ containers }) =>
  containers
    .filter(({ container }) => isOn(container.securityContext?.privileged))
    .map(({ path }) => ({
      field: `${path}.securityContext.privileged`,
      message: 'privileged containers are not allowed',
    }));

/** check_hostPorts.go */
const hostPorts: Check = ({ containers }) =>
  containers.flatMap(({ container, path }) =>
    list(container.ports).flatMap((port, i) =>
      isUnset(port.hostPort) || port.hostPort === 0
        ? []
        : [
            {
              field: `${path}.ports[${i}].hostPort`,
              message: `host port ${show(port.hostPort)} is not allowed`,
            },
          ],
    ),
  );

/** check_hostProbesAndhostLifecycle.go (new in v1.34) */
const hostProbesAndHostLifecycle: Check = ({ containers }) =>
  containers.flatMap(({ container, path }) => {
    const handlers: [string, V1Probe | V1LifecycleHandler | undefined][] = [
      ['livenessProbe', container.livenessProbe],
      ['readinessProbe', container.readinessProbe],
      ['startupProbe', container.startupProbe],
      ['lifecycle.postStart', container.lifecycle?.postStart],
      ['lifecycle.preStop', container.lifecycle?.preStop],
    ];
    return handlers.flatMap(([name, handler]) =>
      (['httpGet', 'tcpSocket'] as const).flatMap((action) => {
        const host: unknown = handler?.[action]?.host;
        return isUnset(host) || host === ''
          ? []
          : [
              {
                field: `${path}.${name}.${action}.host`,
                message: `probes and lifecycle hooks may not reach another host (${show(host)}); leave host unset to use the pod's IP`,
              },
            ];
      }),
    );
  });

/** check_appArmorProfile.go (pod spec fields; see the header for annotations) */
const appArmorProfile: Check = (pod) =>
  securityContexts(pod).flatMap(({ context, path }) => {
    const profile = context?.appArmorProfile;
    return isUnset(profile) || ['RuntimeDefault', 'Localhost'].includes(profile.type)
      ? []
      : [
          {
            field: `${path}.appArmorProfile.type`,
            message: `AppArmor profile type ${show(profile.type)} is not allowed; use RuntimeDefault or Localhost`,
          },
        ];
  });

/** check_seLinuxOptions.go (v1.31+ type list) */
const seLinuxTypes = ['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'];
const seLinuxOptions: Check = (pod) =>
  securityContexts(pod).flatMap(({ context, path }) => {
    const options = context?.seLinuxOptions;
    if (isUnset(options)) return [];
    const violations: PodSecurityViolation[] = [];
    if (!seLinuxTypes.includes(options.type ?? '')) {
      violations.push({
        field: `${path}.seLinuxOptions.type`,
        message: `SELinux type ${show(options.type)} is not allowed; use ${seLinuxTypes.slice(1).join(', ')} or leave it unset`,
      });
    }
    for (const key of ['user', 'role'] as const) {
      if (!isUnset(options[key]) && options[key] !== '') {
        violations.push({
          field: `${path}.seLinuxOptions.${key}`,
          message: `a custom SELinux ${key} is not allowed`,
        });
      }
    }
    return violations;
  });

/** check_procMount.go */
const procMount: Check = ({ containers }) =>
  containers.flatMap(({ container, path }) => {
    const value = container.securityContext?.procMount;
    return isUnset(value) || value === 'Default'
      ? []
      : [
          {
            field: `${path}.securityContext.procMount`,
            message: `procMount ${show(value)} unmasks /proc and is not allowed; use Default or leave it unset`,
          },
        ];
  });

/** check_sysctls.go (v1.32+ safe list) */
const safeSysctls = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
];
const sysctls: Check = ({ spec, path }) =>
  list(spec.securityContext?.sysctls).flatMap((sysctl, i) =>
    safeSysctls.includes(sysctl.name)
      ? []
      : [
          {
            field: `${path}.securityContext.sysctls[${i}].name`,
            message: `sysctl ${show(sysctl.name)} is not in the safe list`,
          },
        ],
  );

/** check_windowsHostProcess.go */
const windowsHostProcess: Check = (pod) =>
  securityContexts(pod)
    .filter(({ context }) => isOn(context?.windowsOptions?.hostProcess))
    .map(({ path }) => ({
      field: `${path}.windowsOptions.hostProcess`,
      message: 'Windows HostProcess containers are not allowed',
    }));

// --- restricted ---

/** check_restrictedVolumes.go (replaces check_hostPathVolumes.go) */
const allowedVolumeSources = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'image',
  'persistentVolumeClaim',
  'projected',
  'secret',
] as const;
const restrictedVolumes: Check = ({ spec, path }) =>
  list(spec.volumes).flatMap((volume, i) => {
    if (allowedVolumeSources.some((source) => !isUnset(volume[source]))) return [];
    // Upstream sees the pod after defaulting, which turns a volume with no source into emptyDir.
    const source = Object.keys(volume).find(
      (key) => key !== 'name' && !isUnset(volume[key as keyof V1Volume]),
    );
    if (source === undefined) return [];
    const allowed = allowedVolumeSources.slice(0, -1).join(', ') + ' or ' + allowedVolumeSources.at(-1);
    return [
      {
        field: `${path}.volumes[${i}].${source}`,
        message: `${source} volume ${show(volume.name)} is not allowed; use ${allowed}`,
      },
    ];
  });

/** check_capabilities_restricted.go (replaces check_capabilities_baseline.go) */
const capabilities: Check = ({ containers, windows }) =>
  windows
    ? []
    : containers.flatMap(({ container, path }) => {
        const capabilities: V1Capabilities | undefined = container.securityContext?.capabilities;
        const violations: PodSecurityViolation[] = [];
        if (!list(capabilities?.drop).includes('ALL')) {
          violations.push({
            field: `${path}.securityContext.capabilities.drop`,
            message: 'must include "ALL": containers must drop all capabilities',
          });
        }
        list(capabilities?.add).forEach((capability, i) => {
          if (capability !== 'NET_BIND_SERVICE') {
            violations.push({
              field: `${path}.securityContext.capabilities.add[${i}]`,
              message: `adding capability ${show(capability)} is not allowed; only NET_BIND_SERVICE may be added`,
            });
          }
        });
        return violations;
      });

/** check_seccompProfile_restricted.go (replaces check_seccompProfile_baseline.go) */
const seccompProfile: Check = (pod) => {
  if (pod.windows) return [];
  const allowed = (type: unknown) => type === 'RuntimeDefault' || type === 'Localhost';
  const podProfile = pod.spec.securityContext?.seccompProfile;
  const violations: PodSecurityViolation[] = [];
  if (!isUnset(podProfile) && !allowed(podProfile.type)) {
    violations.push({
      field: `${pod.path}.securityContext.seccompProfile.type`,
      message: `seccomp profile type ${show(podProfile.type)} is not allowed; use RuntimeDefault or Localhost`,
    });
  }
  for (const { container, path } of pod.containers) {
    const profile = container.securityContext?.seccompProfile;
    if (!isUnset(profile) && !allowed(profile.type)) {
      violations.push({
        field: `${path}.securityContext.seccompProfile.type`,
        message: `seccomp profile type ${show(profile.type)} is not allowed; use RuntimeDefault or Localhost`,
      });
    } else if (isUnset(profile) && isUnset(podProfile)) {
      violations.push({
        field: `${path}.securityContext.seccompProfile.type`,
        message: `must be RuntimeDefault or Localhost, here or in ${pod.path}.securityContext.seccompProfile.type`,
      });
    }
  }
  return violations;
};

/** check_allowPrivilegeEscalation.go */
const allowPrivilegeEscalation: Check = ({ containers, windows }) =>
  windows
    ? []
    : containers
        .filter(({ container }) => container.securityContext?.allowPrivilegeEscalation !== false)
        .map(({ path }) => ({
          field: `${path}.securityContext.allowPrivilegeEscalation`,
          message: 'must be false: privilege escalation (setuid binaries) is not allowed',
        }));

/** check_runAsNonRoot.go */
const runAsNonRoot: Check = (pod) => {
  const podValue = pod.spec.securityContext?.runAsNonRoot;
  const violations: PodSecurityViolation[] = [];
  if (!isUnset(podValue) && podValue !== true) {
    violations.push({
      field: `${pod.path}.securityContext.runAsNonRoot`,
      message: `must be true, not ${show(podValue)}: containers must not run as root`,
    });
  }
  for (const { container, path } of pod.containers) {
    const value = container.securityContext?.runAsNonRoot;
    if (!isUnset(value) && value !== true) {
      violations.push({
        field: `${path}.securityContext.runAsNonRoot`,
        message: `must be true, not ${show(value)}: containers must not run as root`,
      });
    } else if (isUnset(value) && isUnset(podValue)) {
      violations.push({
        field: `${path}.securityContext.runAsNonRoot`,
        message: `must be true, here or in ${pod.path}.securityContext.runAsNonRoot`,
      });
    }
  }
  return violations;
};

/** check_runAsUser.go */
const runAsUser: Check = (pod) =>
  securityContexts(pod)
    .filter(({ context }) => context?.runAsUser === 0)
    .map(({ path }) => ({ field: `${path}.runAsUser`, message: 'running as user 0 (root) is not allowed' }));

/**
 * Host access first, then hardening, so that a summary cut at five shows what matters most;
 * upstream's order carries no meaning.
 */
const restrictedChecks: Check[] = [
  hostNamespaces,
  privileged,
  capabilities,
  restrictedVolumes,
  hostPorts,
  hostProbesAndHostLifecycle,
  appArmorProfile,
  seLinuxOptions,
  procMount,
  seccompProfile,
  sysctls,
  windowsHostProcess,
  allowPrivilegeEscalation,
  runAsNonRoot,
  runAsUser,
];

/** The pod's security context and each container's, for checks that treat them alike. */
function securityContexts({
  spec,
  path,
  containers,
}: PodUnderCheck): { context: V1PodSecurityContext | V1SecurityContext | undefined; path: string }[] {
  return [
    { context: spec.securityContext, path: `${path}.securityContext` },
    ...containers.map(({ container, path }) => ({
      context: container.securityContext,
      path: `${path}.securityContext`,
    })),
  ];
}

/**
 * The template is unvalidated JSON: a list that is not one is the API server's to refuse,
 * not ours to crash on.
 */
function list<T>(value: T[] | undefined): T[] {
  return Array.isArray(value) ? value : [];
}

function isUnset(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

function isOn(value: unknown): boolean {
  return !isUnset(value) && value !== false;
}

function show(value: unknown): string {
  return value === undefined ? 'unset' : JSON.stringify(value);
}
