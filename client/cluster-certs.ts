import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeUri, roleUri } from '../components/network/peer-identity.js';
import { makePrivateDirectory, PRIVATE_FILE_MODE } from '../components/private-file.js';
import {
  BOOTSTRAP_ROLE,
  CA_CERT_FILE,
  CA_KEY_FILE,
  nodeCertFile,
  nodeKeyFile,
} from '../node/peer-tls-files.js';

export interface ClusterCertsOptions {
  /** The directory to write to (created 0700). */
  readonly out: string;
  /** Certificates for nodes 1..nodes. */
  readonly nodes: number;
  readonly clusterId: string;
  /** The node whose certificate also carries the bootstrap role. */
  readonly bootstrapNode: number;
  /** Days a node certificate is valid; the CA lasts at least ten years. */
  readonly days: number;
  /** More host names and IP addresses for the certificates, e.g. for HTTPS (loopback is in). */
  readonly hosts?: readonly string[];
}

export class CertsError extends Error {}

/**
 * Makes what a cluster needs for mutual TLS on its peer port: a CA (`ca.pem`, `ca-key.pem`)
 * and, for each node, a certificate it signed that names the node (`node-<id>.pem`,
 * `node-<id>-key.pem`). Files that exist are kept: run it again with more nodes to add some.
 * Keys are P-256, made by Node's crypto and written 0600; `openssl` signs the certificates
 * (Node has no API to build an X.509 certificate). Returns the files it wrote.
 */
export function makeClusterCerts(options: ClusterCertsOptions): string[] {
  const { out, clusterId } = options;
  makePrivateDirectory(out);
  const written: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'zabkv-certs-'));
  try {
    const caCert = join(out, CA_CERT_FILE);
    const caKey = join(out, CA_KEY_FILE);
    if (!existsSync(caCert)) {
      if (existsSync(caKey)) throw new CertsError(`${caKey} exists without ${caCert}`);
      writeKey(caKey);
      const config = join(work, 'ca.cnf');
      writeFileSync(config, caConfig(clusterId));
      openssl([
        'req',
        '-x509',
        '-new',
        '-sha256',
        '-key',
        caKey,
        '-config',
        config,
        '-extensions',
        'ca_ext',
        '-days',
        String(Math.max(options.days, 3650)),
        '-set_serial',
        serial(),
        '-out',
        caCert,
      ]);
      written.push(caKey, caCert);
    }
    for (let id = 1; id <= options.nodes; id++) {
      const cert = join(out, nodeCertFile(id));
      const key = join(out, nodeKeyFile(id));
      if (existsSync(cert)) continue;
      if (!existsSync(caKey)) {
        throw new CertsError(`${caKey} is needed to sign a certificate for node ${id}`);
      }
      if (!existsSync(key)) writeKey(key);
      const config = join(work, `node-${id}.cnf`);
      const request = join(work, `node-${id}.csr`);
      writeFileSync(config, nodeConfig(options, id));
      openssl(['req', '-new', '-sha256', '-key', key, '-config', config, '-out', request]);
      openssl([
        'x509',
        '-req',
        '-sha256',
        '-in',
        request,
        '-CA',
        caCert,
        '-CAkey',
        caKey,
        '-set_serial',
        serial(),
        '-days',
        String(options.days),
        '-extfile',
        config,
        '-extensions',
        'node_ext',
        '-out',
        cert,
      ]);
      written.push(key, cert);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return written;
}

function writeKey(path: string): void {
  const { privateKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  // Created private ('wx' never follows or replaces an existing file).
  writeFileSync(path, privateKey, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
}

/** A positive random 128-bit serial number, as RFC 5280 wants them unpredictable. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return `0x${bytes.toString('hex')}`;
}

function caConfig(clusterId: string): string {
  return [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    `CN = ${distinguishedValue(`zabkv CA ${clusterId}`)}`,
    '[ca_ext]',
    'basicConstraints = critical, CA:TRUE, pathlen:0',
    'keyUsage = critical, keyCertSign, cRLSign',
    'subjectKeyIdentifier = hash',
    '',
  ].join('\n');
}

function nodeConfig(options: ClusterCertsOptions, id: number): string {
  const hosts = ['localhost', '127.0.0.1', '::1', ...(options.hosts ?? [])];
  const names = [
    `URI:${nodeUri(options.clusterId, id)}`,
    ...(id === options.bootstrapNode ? [`URI:${roleUri(options.clusterId, BOOTSTRAP_ROLE)}`] : []),
    ...hosts.map((host) => (/^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`)),
  ];
  return [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    `CN = node-${id}`,
    '[node_ext]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth, clientAuth',
    `subjectAltName = ${names.join(', ')}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    '',
  ].join('\n');
}

/** A value safe inside an openssl config line. */
function distinguishedValue(text: string): string {
  return text.replace(/[^\w .:-]/g, '_');
}

function openssl(args: string[]): void {
  const result = spawnSync('openssl', args, { encoding: 'utf8' });
  if (result.error !== undefined) {
    throw new CertsError(
      `cannot run openssl (${result.error.message}): install it, or sign node certificates ` +
        `with your own CA as README "Securing a cluster" describes`,
    );
  }
  if (result.status !== 0) {
    throw new CertsError(`openssl ${args[0]} failed: ${result.stderr.trim()}`);
  }
}
