import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertPrivateFile, PrivateFileError } from '../components/private-file.js';
import type { NodeId } from '../components/network/node-id.js';
import { certificateNames, describeNames } from '../components/network/peer-identity.js';
import type { PeerTlsInit } from '../components/network/peer-tls.js';
import { ConfigError } from './node-config.js';

/**
 * The files of a TLS directory (`--tls-dir`, what `zabkv certs` writes): the cluster CA, and
 * each node's certificate and key. A node needs only `ca.pem` and its own two files; the CA's
 * key belongs elsewhere in production.
 */
export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';
export const nodeCertFile = (id: number) => `node-${id}.pem`;
export const nodeKeyFile = (id: number) => `node-${id}-key.pem`;

/** The role that lets the bootstrap node's certificate answer for the bootstrap alias. */
export const BOOTSTRAP_ROLE = 'bootstrap';

function read(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(`--tls-dir: cannot read ${path}: ${(error as Error).message}`);
  }
}

/**
 * This node's peer TLS from `dir`, checked before the node starts so that a wrong file fails
 * here with its reason rather than as handshakes that fail later: the key is private and
 * matches the certificate, the CA signed the certificate, it is valid now, and it names this
 * node in this cluster (and, on the bootstrap node, the bootstrap role).
 */
export function loadPeerTls(
  dir: string,
  id: NodeId,
  clusterId: string,
  bootstrapServer: boolean,
  now = new Date(),
): PeerTlsInit {
  const certPath = join(dir, nodeCertFile(id));
  const keyPath = join(dir, nodeKeyFile(id));
  const caPath = join(dir, CA_CERT_FILE);
  try {
    assertPrivateFile(keyPath, 'the TLS key');
  } catch (error) {
    if (error instanceof PrivateFileError) throw new ConfigError(error.message);
    throw error;
  }
  const [ca, cert, key] = [read(caPath), read(certPath), read(keyPath)];
  let certificate: X509Certificate;
  let authority: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
    authority = new X509Certificate(ca);
  } catch (error) {
    throw new ConfigError(`--tls-dir ${dir}: not a PEM certificate: ${(error as Error).message}`);
  }
  if (!certificate.checkPrivateKey(createPrivateKey(key))) {
    throw new ConfigError(`${keyPath} is not the key of ${certPath}`);
  }
  if (!certificate.checkIssued(authority) || !certificate.verify(authority.publicKey)) {
    throw new ConfigError(`${certPath} is not signed by the CA in ${caPath}`);
  }
  if (now < new Date(certificate.validFrom) || now > new Date(certificate.validTo)) {
    throw new ConfigError(
      `${certPath} is valid from ${certificate.validFrom} to ${certificate.validTo}, not now`,
    );
  }
  const names = certificateNames(certificate.subjectAltName, clusterId);
  if (!names.nodes.has(id)) {
    throw new ConfigError(
      `${certPath} names ${describeNames(names, clusterId)}, not node ${id} of cluster ${clusterId}`,
    );
  }
  if (bootstrapServer && !names.roles.has(BOOTSTRAP_ROLE)) {
    throw new ConfigError(
      `${certPath} lacks the ${BOOTSTRAP_ROLE} role that the bootstrap node's certificate needs ` +
        `(zabkv certs gives it to --bootstrap-node)`,
    );
  }
  return { ca, cert, key };
}
