import { chmodSync, copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import type { TcpNetworkStats } from '../../components/network/tcp-network.js';
import {
  assertPrivateFile,
  makePrivateDirectory,
  privateDirectoryWarning,
} from '../../components/private-file.js';
import { registerNetworkMetrics } from '../../node/network-metrics.js';
import { ConfigError, resolveNodeConfig } from '../../node/node-config.js';
import { loadPeerTls } from '../../node/peer-tls-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zabkv-tls-files-'));
  dirs.push(dir);
  return dir;
}

/** A copy of a fixture directory of test/fixtures/tls, keys 0600. */
function fixture(name: string): string {
  const dir = temp();
  for (const file of readdirSync(`test/fixtures/tls/${name}`)) {
    copyFileSync(`test/fixtures/tls/${name}/${file}`, join(dir, file));
    chmodSync(join(dir, file), file.endsWith('-key.pem') ? 0o600 : 0o644);
  }
  return dir;
}

describe('private files', () => {
  it('refuses a file that group or others may access, naming the mode and the fix', () => {
    const file = join(temp(), 'secret');
    writeFileSync(file, 'x', { mode: 0o600 });
    expect(() => assertPrivateFile(file)).not.toThrow();
    for (const mode of [0o640, 0o604, 0o660, 0o644, 0o610]) {
      chmodSync(file, mode);
      expect(() => assertPrivateFile(file, 'the key')).toThrow(
        `permissions 0${mode.toString(8)} for the key ${file} are too open: it must not be accessible by group or others (chmod 600 ${file})`,
      );
    }
    chmodSync(file, 0o400);
    expect(() => assertPrivateFile(file)).not.toThrow();
    expect(() => assertPrivateFile(join(temp(), 'missing'))).toThrow(/cannot read/);
  });

  it('makes directories 0700 and warns about an existing open one', () => {
    const dir = join(temp(), 'a', 'b');
    makePrivateDirectory(dir);
    expect(privateDirectoryWarning(dir)).toBeNull();
    chmodSync(dir, 0o755);
    expect(privateDirectoryWarning(dir)).toMatch(/permissions 0755.*chmod 700/);
  });
});

describe('peer TLS files', () => {
  it('loads a node of the fixtures, with the bootstrap role where it is needed', () => {
    const dir = fixture('cluster');
    expect(loadPeerTls(dir, nodeId(1), 'zabkv', true).cert.toString()).toContain('CERTIFICATE');
    expect(() => loadPeerTls(dir, nodeId(2), 'zabkv', false)).not.toThrow();
    expect(() => loadPeerTls(dir, nodeId(2), 'zabkv', true)).toThrow(/lacks the bootstrap role/);
  });

  it('says what is wrong with each unusable file', () => {
    const dir = fixture('cluster');
    const load =
      (id = 2, clusterId = 'zabkv') =>
      () =>
        loadPeerTls(dir, nodeId(id), clusterId, false);
    expect(load(2, 'prod')).toThrow(
      /names no zabkv name of cluster prod, not node 2 of cluster prod/,
    );
    expect(load(7)).toThrow(/cannot read .*node-7/);

    chmodSync(join(dir, 'node-3-key.pem'), 0o644);
    expect(load(3)).toThrow(ConfigError);
    expect(load(3)).toThrow(/permissions 0644 for the TLS key/);

    copyFileSync(join(dir, 'node-4-key.pem'), join(dir, 'node-2-key.pem'));
    expect(load(2)).toThrow(/node-2-key\.pem is not the key of .*node-2\.pem/);

    const other = fixture('other-ca');
    copyFileSync(join(other, 'ca.pem'), join(dir, 'ca.pem'));
    expect(load(4)).toThrow(/node-4\.pem is not signed by the CA/);
  });

  it('refuses a certificate outside its validity', () => {
    const dir = fixture('cluster');
    expect(() => loadPeerTls(dir, nodeId(2), 'zabkv', false, new Date('2200-01-01'))).toThrow(
      /is valid from .* to .*, not now/,
    );
  });

  it('takes the directory from --tls-dir, ZABKV_TLS_DIR or the config file', () => {
    const base = { id: '2', peer: 'h:1', http: 'h:2', data: '/d', bootstrap: 'b:3' };
    expect(resolveNodeConfig(base, {}).tlsDir).toBeUndefined();
    expect(resolveNodeConfig(base, { ZABKV_TLS_DIR: '/env' }).tlsDir).toBe('/env');
    expect(resolveNodeConfig({ ...base, tlsDir: '/flag' }, { ZABKV_TLS_DIR: '/env' }).tlsDir).toBe(
      '/flag',
    );
    const file = join(temp(), 'node.json');
    writeFileSync(file, JSON.stringify({ tlsDir: '/file' }));
    expect(resolveNodeConfig({ ...base, config: file }, {}).tlsDir).toBe('/file');
  });
});

describe('network metrics', () => {
  it('publishes the peer network counters', async () => {
    const stats = {
      handshakeFailures: 3,
      dialHandshakeFailures: 1,
      handshakeTimeouts: 2,
      connectionsRefused: 4,
      connectionsReplaced: 5,
      connectionsAccepted: 9,
      badFrames: 6,
      framesIn: 7,
      dropped: 8,
    } as TcpNetworkStats;
    const registry = new Registry();
    registerNetworkMetrics(registry, stats);
    const text = await registry.metrics();
    expect(text).toContain('zabkv_peer_handshake_failures_total{direction="in"} 3');
    expect(text).toContain('zabkv_peer_handshake_failures_total{direction="out"} 1');
    expect(text).toContain('zabkv_peer_handshake_timeouts_total 2');
    expect(text).toContain('zabkv_peer_connections_refused_total 4');
    stats.handshakeFailures = 10;
    expect(await registry.metrics()).toContain(
      'zabkv_peer_handshake_failures_total{direction="in"} 10',
    );
  });
});
