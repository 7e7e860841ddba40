import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Container, V1PodSpec, V1SecurityContext } from '@kubernetes/client-node';
import {
  formatViolations,
  restrictedViolations,
  type PodSecurityViolation,
} from '../../../src/security/pod-security.js';

const pod = 'spec.template.spec';
const container = `${pod}.containers[0]`;
const initContainer = `${pod}.initContainers[0]`;

/** Upstream's restricted base pod: pod-security-admission v0.34.9 test/testdata/restricted/v1.34/pass/base.yaml. */
function compliant(): V1PodSpec {
  const securityContext = (): V1SecurityContext => ({
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  });
  return {
    containers: [{ name: 'container1', image: 'registry.k8s.io/pause', securityContext: securityContext() }],
    initContainers: [
      { name: 'initcontainer1', image: 'registry.k8s.io/pause', securityContext: securityContext() },
    ],
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  };
}

/** The compliant pod with one thing changed; `c` is its first container, `i` its init container. */
function changed(change: (spec: V1PodSpec, c: V1Container, i: V1Container) => void): V1PodSpec {
  const spec = compliant();
  change(spec, spec.containers[0]!, spec.initContainers![0]!);
  return spec;
}

const fields = (spec: V1PodSpec) => restrictedViolations(spec).map((v) => v.field);

describe('restrictedViolations: pods that pass', () => {
  const cases: [string, V1PodSpec][] = [
    ['the upstream restricted base pod', compliant()],
    [
      'a Windows pod, exempt from the Linux-only checks (upstream pass/base_windows.yaml)',
      {
        os: { name: 'windows' },
        containers: [{ name: 'container1', image: 'registry.k8s.io/pause' }],
        initContainers: [{ name: 'initcontainer1', image: 'registry.k8s.io/pause' }],
        securityContext: { runAsNonRoot: true },
      },
    ],
    [
      'adding NET_BIND_SERVICE',
      changed((_, c) => (c.securityContext!.capabilities!.add = ['NET_BIND_SERVICE'])),
    ],
    [
      'seccomp and runAsNonRoot set per container instead of on the pod',
      changed((spec, c, i) => {
        spec.securityContext = {};
        for (const each of [c, i]) {
          each.securityContext!.runAsNonRoot = true;
          each.securityContext!.seccompProfile = {
            type: 'Localhost',
            localhostProfile: 'profiles/train.json',
          };
        }
      }),
    ],
    [
      'every allowed volume type, and a volume with no source (defaulted to emptyDir; upstream pass/restrictedvolumes0.yaml)',
      changed((spec) => {
        spec.volumes = [
          { name: 'defaulted' },
          { name: 'config', configMap: { name: 'c' } },
          { name: 'csi', csi: { driver: 'd' } },
          { name: 'downward', downwardAPI: {} },
          { name: 'scratch', emptyDir: {} },
          { name: 'ephemeral', ephemeral: {} },
          { name: 'model', image: { reference: 'registry.example/model:1' } },
          { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
          { name: 'token', projected: { sources: [] } },
          { name: 'secret', secret: { secretName: 's' } },
        ];
      }),
    ],
    [
      'safe sysctls (upstream pass/sysctls1.yaml)',
      changed((spec) => {
        spec.securityContext!.sysctls = [
          { name: 'net.ipv4.tcp_rmem', value: '4096 87380 16777216' },
          { name: 'net.ipv4.tcp_wmem', value: '4096 65536 16777216' },
        ];
      }),
    ],
    [
      'allowed SELinux types and a level (upstream pass/selinuxoptions1.yaml)',
      changed((spec, c, i) => {
        spec.securityContext!.seLinuxOptions = { type: 'container_t' };
        c.securityContext!.seLinuxOptions = { type: 'container_init_t', level: 'somevalue' };
        i.securityContext!.seLinuxOptions = { type: 'container_kvm_t' };
      }),
    ],
    [
      'allowed AppArmor profiles, procMount Default, a non-root uid, a probe on the pod IP, ports without hostPort',
      changed((spec, c) => {
        spec.securityContext!.appArmorProfile = { type: 'RuntimeDefault' };
        spec.securityContext!.runAsUser = 1000;
        c.securityContext!.appArmorProfile = { type: 'Localhost', localhostProfile: 'k8s-train' };
        c.securityContext!.procMount = 'Default';
        c.securityContext!.windowsOptions = { hostProcess: false };
        c.ports = [{ containerPort: 8080 }, { containerPort: 8081, hostPort: 0 }];
        c.livenessProbe = { httpGet: { port: 8080, host: '' } };
      }),
    ],
  ];
  for (const [name, spec] of cases) {
    it(name, () => assert.deepEqual(restrictedViolations(spec), []));
  }
});

describe('restrictedViolations: one case per check, naming the field', () => {
  const cases: [string, V1PodSpec, string[]][] = [
    // check_hostNamespaces.go
    ['hostNetwork', changed((spec) => (spec.hostNetwork = true)), [`${pod}.hostNetwork`]],
    ['hostPID', changed((spec) => (spec.hostPID = true)), [`${pod}.hostPID`]],
    ['hostIPC', changed((spec) => (spec.hostIPC = true)), [`${pod}.hostIPC`]],
    // check_privileged.go
    [
      'privileged',
      changed((_, c) => (c.securityContext!.privileged = true)),
      [`${container}.securityContext.privileged`],
    ],
    // check_capabilities_restricted.go
    [
      'capabilities not dropped',
      changed((_, c) => (c.securityContext!.capabilities = { drop: ['NET_RAW'] })),
      [`${container}.securityContext.capabilities.drop`],
    ],
    [
      'a capability added',
      changed((_, c) => (c.securityContext!.capabilities!.add = ['NET_BIND_SERVICE', 'SYS_ADMIN'])),
      [`${container}.securityContext.capabilities.add[1]`],
    ],
    // check_restrictedVolumes.go (which replaces check_hostPathVolumes.go)
    [
      'a hostPath volume',
      changed((spec) => (spec.volumes = [{ name: 'host', hostPath: { path: '/' } }])),
      [`${pod}.volumes[0].hostPath`],
    ],
    [
      'an nfs volume',
      changed((spec) => (spec.volumes = [{ name: 'data', nfs: { server: 'nas', path: '/models' } }])),
      [`${pod}.volumes[0].nfs`],
    ],
    // check_hostPorts.go
    [
      'a hostPort',
      changed((_, c) => (c.ports = [{ containerPort: 8080 }, { containerPort: 9090, hostPort: 9090 }])),
      [`${container}.ports[1].hostPort`],
    ],
    // check_hostProbesAndhostLifecycle.go
    [
      'a probe host',
      changed((_, c) => (c.livenessProbe = { httpGet: { port: 80, host: '169.254.169.254' } })),
      [`${container}.livenessProbe.httpGet.host`],
    ],
    [
      'a lifecycle hook host',
      changed((_, c) => (c.lifecycle = { preStop: { tcpSocket: { port: 80, host: 'kube-apiserver' } } })),
      [`${container}.lifecycle.preStop.tcpSocket.host`],
    ],
    // check_appArmorProfile.go
    [
      'AppArmor unconfined on the pod',
      changed((spec) => (spec.securityContext!.appArmorProfile = { type: 'Unconfined' })),
      [`${pod}.securityContext.appArmorProfile.type`],
    ],
    [
      'AppArmor unconfined on a container',
      changed((_, c) => (c.securityContext!.appArmorProfile = { type: 'Unconfined' })),
      [`${container}.securityContext.appArmorProfile.type`],
    ],
    // check_seLinuxOptions.go
    [
      'an SELinux type',
      changed((_, c) => (c.securityContext!.seLinuxOptions = { type: 'spc_t' })),
      [`${container}.securityContext.seLinuxOptions.type`],
    ],
    [
      'an SELinux user and role',
      changed((spec) => (spec.securityContext!.seLinuxOptions = { user: 'system_u', role: 'system_r' })),
      [`${pod}.securityContext.seLinuxOptions.user`, `${pod}.securityContext.seLinuxOptions.role`],
    ],
    // check_procMount.go
    [
      'an unmasked /proc',
      changed((_, c) => (c.securityContext!.procMount = 'Unmasked')),
      [`${container}.securityContext.procMount`],
    ],
    // check_seccompProfile_restricted.go (which replaces check_seccompProfile_baseline.go)
    [
      'seccomp unconfined on the pod',
      changed((spec) => (spec.securityContext!.seccompProfile = { type: 'Unconfined' })),
      [`${pod}.securityContext.seccompProfile.type`],
    ],
    [
      'no seccomp profile anywhere',
      changed((spec) => delete spec.securityContext!.seccompProfile),
      [
        `${initContainer}.securityContext.seccompProfile.type`,
        `${container}.securityContext.seccompProfile.type`,
      ],
    ],
    // check_sysctls.go
    [
      'an unsafe sysctl',
      changed((spec) => (spec.securityContext!.sysctls = [{ name: 'kernel.msgmax', value: '65536' }])),
      [`${pod}.securityContext.sysctls[0].name`],
    ],
    // check_windowsHostProcess.go
    [
      'a Windows HostProcess pod',
      changed((spec) => (spec.securityContext!.windowsOptions = { hostProcess: true })),
      [`${pod}.securityContext.windowsOptions.hostProcess`],
    ],
    // check_allowPrivilegeEscalation.go
    [
      'allowPrivilegeEscalation true',
      changed((_, c) => (c.securityContext!.allowPrivilegeEscalation = true)),
      [`${container}.securityContext.allowPrivilegeEscalation`],
    ],
    [
      'allowPrivilegeEscalation unset',
      changed((_, c) => delete c.securityContext!.allowPrivilegeEscalation),
      [`${container}.securityContext.allowPrivilegeEscalation`],
    ],
    // check_runAsNonRoot.go
    [
      'runAsNonRoot false on the pod',
      changed((spec) => (spec.securityContext!.runAsNonRoot = false)),
      [`${pod}.securityContext.runAsNonRoot`],
    ],
    [
      'runAsNonRoot false on a container, overriding the pod',
      changed((_, c) => (c.securityContext!.runAsNonRoot = false)),
      [`${container}.securityContext.runAsNonRoot`],
    ],
    // check_runAsUser.go
    [
      'runAsUser 0 on the pod',
      changed((spec) => (spec.securityContext!.runAsUser = 0)),
      [`${pod}.securityContext.runAsUser`],
    ],
    [
      'runAsUser 0 on a container',
      changed((_, c) => (c.securityContext!.runAsUser = 0)),
      [`${container}.securityContext.runAsUser`],
    ],
    // upstream's visitContainers: init, regular and ephemeral containers alike
    [
      'a privileged ephemeral container',
      changed((spec, c) => {
        spec.ephemeralContainers = [{ ...structuredClone(c), name: 'debug' }];
        spec.ephemeralContainers[0]!.securityContext!.privileged = true;
      }),
      [`${pod}.ephemeralContainers[0].securityContext.privileged`],
    ],
  ];
  for (const [name, spec, expected] of cases) {
    it(name, () => assert.deepEqual(fields(spec), expected));
  }

  it('reports against the path it is given', () => {
    const spec = changed((s) => (s.hostPID = true));
    assert.deepEqual(
      restrictedViolations(spec, 'spec').map((v) => v.field),
      ['spec.hostPID'],
    );
  });

  it('names the value in the message where the field alone does not say it', () => {
    const [capability] = restrictedViolations(
      changed((_, c) => (c.securityContext!.capabilities!.add = ['SYS_PTRACE'])),
    );
    assert.match(capability!.message, /"SYS_PTRACE"/);
    const [volume] = restrictedViolations(
      changed((s) => (s.volumes = [{ name: 'host', hostPath: { path: '/' } }])),
    );
    assert.match(volume!.message, /hostPath volume "host" is not allowed/);
  });

  it('does not crash on a template whose lists are not lists (the API server refuses those)', () => {
    const spec = changed((_, c) => {
      (c.securityContext!.capabilities as unknown as Record<string, unknown>).add = 'SYS_ADMIN';
    });
    assert.deepEqual(fields(spec), []);
  });
});

describe('the reported attack: privileged, hostPID, hostNetwork and a hostPath of /', () => {
  const attack: V1PodSpec = {
    hostPID: true,
    hostNetwork: true,
    restartPolicy: 'Never',
    containers: [
      {
        name: 'trainer',
        image: 'busybox',
        command: ['chroot', '/host', 'sh'],
        securityContext: { privileged: true },
        volumeMounts: [{ name: 'host', mountPath: '/host' }],
      },
    ],
    volumes: [{ name: 'host', hostPath: { path: '/' } }],
  };

  it('lists all four', () => {
    const found = fields(attack);
    for (const field of [
      `${pod}.hostNetwork`,
      `${pod}.hostPID`,
      `${container}.securityContext.privileged`,
      `${pod}.volumes[0].hostPath`,
    ]) {
      assert.ok(found.includes(field), `${field} missing from ${found.join(', ')}`);
    }
  });

  it('names all four in the first five of the one-line summary', () => {
    assert.equal(
      formatViolations(restrictedViolations(attack)),
      'retraining.jobTemplate violates Pod Security "restricted": ' +
        'spec.template.spec.hostNetwork (host namespaces are not allowed); ' +
        'spec.template.spec.hostPID (host namespaces are not allowed); ' +
        'spec.template.spec.containers[0].securityContext.privileged (privileged containers are not allowed); ' +
        'spec.template.spec.containers[0].securityContext.capabilities.drop (must include "ALL": containers must drop all capabilities); ' +
        'spec.template.spec.volumes[0].hostPath (hostPath volume "host" is not allowed; use configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected or secret); ' +
        'and 3 more',
    );
  });
});

/**
 * Fail cases from upstream's generated fixtures, pod-security-admission v0.34.9
 * test/testdata/restricted/v1.34/fail/<name>.yaml: each is the base pod with the change shown.
 */
describe('upstream fixtures that restricted refuses', () => {
  const cases: [string, V1PodSpec, string[]][] = [
    [
      'allowprivilegeescalation2',
      changed((_, c) => delete c.securityContext!.allowPrivilegeEscalation),
      [`${container}.securityContext.allowPrivilegeEscalation`],
    ],
    [
      'capabilities_baseline2 (capability names are case-sensitive)',
      changed((_, c) => (c.securityContext!.capabilities!.add = ['chown'])),
      [`${container}.securityContext.capabilities.add[0]`],
    ],
    [
      'capabilities_restricted0',
      changed((_, c) => (c.securityContext!.capabilities = {})),
      [`${container}.securityContext.capabilities.drop`],
    ],
    [
      'capabilities_restricted3 (even the baseline default set)',
      changed(
        (_, c) => (c.securityContext!.capabilities!.add = ['AUDIT_WRITE', 'NET_BIND_SERVICE', 'SYS_CHROOT']),
      ),
      [
        `${container}.securityContext.capabilities.add[0]`,
        `${container}.securityContext.capabilities.add[2]`,
      ],
    ],
    [
      'hostpathvolumes0',
      changed(
        (spec) =>
          (spec.volumes = [
            { name: 'volume-emptydir', emptyDir: {} },
            { name: 'volume-hostpath', hostPath: { path: '/a' } },
          ]),
      ),
      [`${pod}.volumes[1].hostPath`],
    ],
    [
      'hostports2',
      changed((_, c, i) => {
        c.ports = [{ containerPort: 12345, hostPort: 12345 }, { containerPort: 12347 }];
        i.ports = [{ containerPort: 12346, hostPort: 12346 }, { containerPort: 12348 }];
      }),
      [`${initContainer}.ports[0].hostPort`, `${container}.ports[0].hostPort`],
    ],
    [
      'hostprobesandhostlifecycle1 (a restartable init container)',
      changed((_, __, i) => {
        i.restartPolicy = 'Always';
        i.readinessProbe = { tcpSocket: { host: '8.8.8.8', port: 8080 } };
      }),
      [`${initContainer}.readinessProbe.tcpSocket.host`],
    ],
    [
      'hostprobesandhostlifecycle2',
      changed((_, c) => (c.lifecycle = { postStart: { httpGet: { host: 'bad.host', port: 8080 } } })),
      [`${container}.lifecycle.postStart.httpGet.host`],
    ],
    [
      'procmount0 (hostUsers: false does not relax it without the alpha gate)',
      changed((spec, c) => {
        spec.hostUsers = false;
        c.securityContext!.procMount = 'Unmasked';
      }),
      [`${container}.securityContext.procMount`],
    ],
    [
      'restrictedvolumes2',
      changed(
        (spec) =>
          (spec.volumes = [{ name: 'volume1', gitRepo: { repository: 'github.com/kubernetes/kubernetes' } }]),
      ),
      [`${pod}.volumes[0].gitRepo`],
    ],
    [
      'restrictedvolumes6',
      changed((spec) => (spec.volumes = [{ name: 'volume1', rbd: { image: 'test', monitors: ['test'] } }])),
      [`${pod}.volumes[0].rbd`],
    ],
    [
      'runasnonroot0',
      changed((spec) => delete spec.securityContext!.runAsNonRoot),
      [`${initContainer}.securityContext.runAsNonRoot`, `${container}.securityContext.runAsNonRoot`],
    ],
    [
      'runasuser2',
      changed((_, __, i) => (i.securityContext!.runAsUser = 0)),
      [`${initContainer}.securityContext.runAsUser`],
    ],
    [
      'seccompprofile_restricted4',
      changed((spec, c, i) => {
        delete spec.securityContext!.seccompProfile;
        c.securityContext!.seccompProfile = { type: 'RuntimeDefault' };
        i.securityContext!.seccompProfile = { type: 'Unconfined' };
      }),
      [`${initContainer}.securityContext.seccompProfile.type`],
    ],
    [
      'selinuxoptions0',
      changed((spec, c, i) => {
        c.securityContext!.seLinuxOptions = {};
        i.securityContext!.seLinuxOptions = {};
        spec.securityContext!.seLinuxOptions = { type: 'somevalue' };
      }),
      [`${pod}.securityContext.seLinuxOptions.type`],
    ],
    [
      'sysctls0',
      changed((spec) => (spec.securityContext!.sysctls = [{ name: 'othersysctl', value: 'other' }])),
      [`${pod}.securityContext.sysctls[0].name`],
    ],
    [
      'windowshostprocess1',
      changed((spec, c, i) => {
        spec.hostNetwork = true;
        c.securityContext!.windowsOptions = { hostProcess: true };
        i.securityContext!.windowsOptions = { hostProcess: true };
        spec.securityContext!.windowsOptions = {};
      }),
      [
        `${pod}.hostNetwork`,
        `${initContainer}.securityContext.windowsOptions.hostProcess`,
        `${container}.securityContext.windowsOptions.hostProcess`,
      ],
    ],
  ];
  for (const [name, spec, expected] of cases) {
    it(name, () => assert.deepEqual(fields(spec), expected));
  }
});

describe('formatViolations', () => {
  const violation = (n: number): PodSecurityViolation => ({ field: `f${n}`, message: `m${n}` });

  it('lists every violation when there are five or fewer', () => {
    assert.equal(
      formatViolations([1, 2].map(violation)),
      'retraining.jobTemplate violates Pod Security "restricted": f1 (m1); f2 (m2)',
    );
  });

  it('lists five, then counts the rest', () => {
    assert.equal(
      formatViolations([1, 2, 3, 4, 5, 6, 7].map(violation)),
      'retraining.jobTemplate violates Pod Security "restricted": f1 (m1); f2 (m2); f3 (m3); f4 (m4); f5 (m5); and 2 more',
    );
  });

  it('names another subject', () => {
    assert.equal(
      formatViolations([violation(1)], 'evaluation Job'),
      'evaluation Job violates Pod Security "restricted": f1 (m1)',
    );
  });
});
