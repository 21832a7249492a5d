import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import { certificateNames } from '../../components/network/peer-identity.js';
import { makeClusterCerts } from '../../client/cluster-certs.js';
import { loadPeerTls } from '../../node/peer-tls-files.js';

// `zabkv certs` runs openssl once here (a few P-256 certificates take well under a second);
// the other TLS tests use the committed fixtures instead.
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'zabkv-certs-'));
const out = join(dir, 'tls');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasOpenssl)('zabkv certs (openssl)', () => {
  it('makes a CA and node certificates that the nodes accept, keys 0600, directory 0700', () => {
    const written = makeClusterCerts({
      out,
      nodes: 3,
      clusterId: 'prod',
      bootstrapNode: 2,
      days: 30,
      hosts: ['node1.example.com', '10.0.0.1'],
    });
    expect(written.map((file) => file.slice(out.length + 1)).sort()).toEqual(
      [
        'ca-key.pem',
        'ca.pem',
        'node-1-key.pem',
        'node-1.pem',
        'node-2-key.pem',
        'node-2.pem',
        'node-3-key.pem',
        'node-3.pem',
      ].sort(),
    );
    expect(statSync(out).mode & 0o777).toBe(0o700);
    for (const file of ['ca-key.pem', 'node-1-key.pem', 'node-3-key.pem']) {
      expect(statSync(join(out, file)).mode & 0o777).toBe(0o600);
    }
    for (const id of [1, 2, 3]) {
      expect(() => loadPeerTls(out, nodeId(id), 'prod', id === 2)).not.toThrow();
    }
    expect(() => loadPeerTls(out, nodeId(1), 'prod', true)).toThrow(/bootstrap role/);
    expect(() => loadPeerTls(out, nodeId(1), 'zabkv', false)).toThrow(/not node 1 of cluster/);
    const node1 = new X509Certificate(readFileSync(join(out, 'node-1.pem')));
    expect(node1.subject).toContain('CN=node-1');
    expect(node1.subjectAltName).toContain('DNS:node1.example.com');
    expect(node1.subjectAltName).toContain('IP Address:10.0.0.1');
    expect(node1.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(node1.serialNumber).not.toBe(
      new X509Certificate(readFileSync(join(out, 'node-2.pem'))).serialNumber,
    );
    expect([...certificateNames(node1.subjectAltName, 'prod').nodes]).toEqual([1]);
  });

  it('keeps what exists and adds what is missing', () => {
    const before = readFileSync(join(out, 'node-1.pem'), 'utf8');
    expect(
      makeClusterCerts({ out, nodes: 3, clusterId: 'prod', bootstrapNode: 2, days: 30 }),
    ).toEqual([]);
    const added = makeClusterCerts({
      out,
      nodes: 4,
      clusterId: 'prod',
      bootstrapNode: 2,
      days: 30,
    });
    expect(added.map((file) => file.slice(out.length + 1))).toEqual([
      'node-4-key.pem',
      'node-4.pem',
    ]);
    expect(readFileSync(join(out, 'node-1.pem'), 'utf8')).toBe(before);
    expect(() => loadPeerTls(out, nodeId(4), 'prod', false)).not.toThrow();
  });
});
