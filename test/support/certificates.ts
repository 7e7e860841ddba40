import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ControlPlaneCertificates {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
  /** The apiserver's client certificate towards kubelets (logs, exec, port-forward), with `kubeletClient`. */
  kubeletClientCert?: string;
  kubeletClientKey?: string;
}

export interface CertificateOptions {
  /** More addresses the apiserver serves on (a real node's bridge address). */
  servingIps?: string[];
  /** Also a client certificate for the apiserver to call kubelets with. */
  kubeletClient?: boolean;
}

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd });
}

/**
 * A throwaway PKI for one control plane: a CA, the apiserver's serving certificate (valid for the
 * loopback address and the in-cluster service names), an admin client certificate in
 * `system:masters`, and the service-account signing key pair.
 */
export async function generateCertificates(
  dir: string,
  options: CertificateOptions = {},
): Promise<ControlPlaneCertificates> {
  const file = (name: string) => path.join(dir, name);
  await openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=pruneguard-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );

  await writeFile(
    file('serving.ext'),
    `subjectAltName=IP:127.0.0.1,IP:10.0.0.1,${(options.servingIps ?? []).map((ip) => `IP:${ip},`).join('')}` +
      'DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,' +
      'DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n' +
      'extendedKeyUsage=serverAuth\n',
  );
  await signedCertificate(dir, 'serving', '/CN=kube-apiserver', 'serving.ext');

  await writeFile(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
  await signedCertificate(dir, 'admin', '/O=system:masters/CN=pruneguard-test-admin', 'client.ext');

  if (options.kubeletClient) {
    await signedCertificate(
      dir,
      'kubelet-client',
      '/O=system:masters/CN=kube-apiserver-kubelet-client',
      'client.ext',
    );
  }

  await openssl(dir, 'genrsa', '-out', 'service-account.key', '2048');
  await openssl(dir, 'rsa', '-in', 'service-account.key', '-pubout', '-out', 'service-account.pub');

  return {
    caCert: file('ca.crt'),
    caKey: file('ca.key'),
    servingCert: file('serving.crt'),
    servingKey: file('serving.key'),
    adminCert: file('admin.crt'),
    adminKey: file('admin.key'),
    serviceAccountKey: file('service-account.key'),
    serviceAccountPublicKey: file('service-account.pub'),
    ...(options.kubeletClient
      ? { kubeletClientCert: file('kubelet-client.crt'), kubeletClientKey: file('kubelet-client.key') }
      : {}),
  };
}

/** `name.crt` and `name.key` in `dir`, signed by the CA there (`ca.crt`, `ca.key`), with `extensions` (a file in `dir`). */
export async function signedCertificate(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
): Promise<void> {
  await openssl(
    dir,
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    subject,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
  );
  await openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    extensions,
    '-out',
    `${name}.crt`,
  );
}
