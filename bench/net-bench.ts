// TcpNetwork between two processes on loopback: one-way small-message throughput over one
// connection, and round-trip latency with one message in flight; in plaintext and with mutual
// TLS (TLS 1.3), each in its own pair of processes.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComponentSystem, LiveScheduler } from '../components/kernel/index.js';
import { nodeId } from '../components/network/node-id.js';
import { makeClusterCerts } from '../client/cluster-certs.js';
import { loadPeerTls } from '../node/peer-tls-files.js';
import { BenchNode } from './net-bench-peer.js';
import { median, writeBenchmarkSection } from './report.js';

const SENDER = nodeId(1);
const RECEIVER = nodeId(2);
const MESSAGES = 1_000_000;
const BATCH = 5_000;
const PINGS = 5_000;
const RUNS = 5;
const PAYLOAD = 'x'.repeat(8); // with the envelope, a ~40-byte frame

interface Measures {
  rates: number[];
  p50s: number[];
  p99s: number[];
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A sender here and a forked receiver, connected; plaintext, or TLS with the certs in `tlsDir`. */
async function pair(tlsDir: string | null) {
  const system = new ComponentSystem({ scheduler: new LiveScheduler() });
  const sender = system.createRoot(BenchNode, {
    self: SENDER,
    port: 0,
    peers: [],
    ...(tlsDir === null ? {} : { tls: loadPeerTls(tlsDir, SENDER, 'bench', false) }),
  });
  sender.start();
  const senderPort = await sender.tcp.whenListening();
  const args = [String(senderPort), ...(tlsDir === null ? [] : [tlsDir])];
  const child = fork(new URL('./net-bench-receiver.js', import.meta.url), args, {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const receiverPort = await new Promise<number>((resolve) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /listening (\d+)/.exec(String(chunk));
      if (match) resolve(Number(match[1]));
    });
  });
  const endpoint = sender.endpoint;
  endpoint.setPeers([{ id: RECEIVER, host: '127.0.0.1', port: receiverPort }]);

  let expectedCount = 0;
  async function throughput(): Promise<number> {
    const started = process.hrtime.bigint();
    for (let seq = 0; seq < MESSAGES; seq += BATCH) {
      for (let i = 0; i < BATCH; i++) endpoint.send(RECEIVER, 'bench.Data', seq + i, PAYLOAD);
      await tick(); // let the batch be flushed as one write
    }
    expectedCount += MESSAGES + 1;
    const counted = new Promise<number>((resolve) => (endpoint.onCount = resolve));
    endpoint.send(RECEIVER, 'bench.Data', MESSAGES, '?');
    const count = await counted;
    if (count !== expectedCount)
      throw new Error(`receiver counted ${count}, expected ${expectedCount}`);
    return (MESSAGES + 1) / (Number(process.hrtime.bigint() - started) / 1e9);
  }

  async function roundTrips(): Promise<number[]> {
    const samples: number[] = [];
    for (let seq = 0; seq < PINGS; seq++) {
      const sent = process.hrtime.bigint();
      await new Promise<void>((resolve) => {
        endpoint.onPong = () => resolve();
        endpoint.send(RECEIVER, 'bench.Ping', seq);
      });
      samples.push(Number(process.hrtime.bigint() - sent) / 1e3);
    }
    return samples.sort((a, b) => a - b);
  }

  await roundTrips(); // warm-up, and the connection is up
  const measures: Measures = { rates: [], p50s: [], p99s: [] };
  return {
    measures,
    /** One run: throughput, then round trips. */
    async run(label: string, run: number): Promise<void> {
      measures.rates.push(await throughput());
      const rtt = await roundTrips();
      measures.p50s.push(rtt[Math.floor(rtt.length * 0.5)]!);
      measures.p99s.push(rtt[Math.floor(rtt.length * 0.99)]!);
      console.log(
        `${label} run ${run}: ${Math.round(measures.rates.at(-1)!)} msg/s one way, rtt p50 ${measures.p50s.at(-1)!.toFixed(0)} µs`,
      );
    },
    close(): void {
      child.disconnect();
      sender.kill();
    },
  };
}

// Both pairs stay up and take turns, run by run, so a change in the machine's load falls on
// both alike.
const certs = mkdtempSync(join(tmpdir(), 'zabkv-net-bench-'));
const [plain, tls] = await (async () => {
  try {
    makeClusterCerts({ out: certs, nodes: 2, clusterId: 'bench', bootstrapNode: 1, days: 1 });
    const plaintext = await pair(null);
    const secured = await pair(certs);
    for (let run = 1; run <= RUNS; run++) {
      await plaintext.run('plaintext', run);
      await secured.run('TLS', run);
    }
    plaintext.close();
    secured.close();
    return [plaintext.measures, secured.measures] as const;
  } finally {
    rmSync(certs, { recursive: true, force: true });
  }
})();

const count = (values: number[]) =>
  `${Math.round(median(values)).toLocaleString('en')} (${Math.round(Math.min(...values)).toLocaleString('en')}–${Math.round(Math.max(...values)).toLocaleString('en')})`;
const micros = (values: number[]) =>
  `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
const change = (plaintext: number[], secured: number[]) => {
  const percent = (median(secured) / median(plaintext) - 1) * 100;
  return `${percent >= 0 ? '+' : '−'}${Math.abs(percent).toFixed(0)} %`;
};

writeBenchmarkSection(
  'net',
  'TcpNetwork: small messages between two processes on loopback',
  'npm run bench:net',
  [
    `One connection, ~40-byte frames (${MESSAGES.toLocaleString('en')} per run, sent in batches of ${BATCH.toLocaleString('en')} per tick,`,
    `counted by the receiving process); round trips with one message in flight (${PINGS.toLocaleString('en')} per run).`,
    `Median of ${RUNS} runs (range in brackets), in plaintext and with mutual TLS 1.3 (P-256`,
    `certificates, \`--tls-dir\`), the two taking turns run by run. Target: at least 300,000 messages/s one way.`,
    '',
    '| measure | plaintext | mutual TLS | TLS vs plaintext |',
    '| --- | --- | --- | --- |',
    `| one-way throughput (messages/s) | ${count(plain.rates)} | ${count(tls.rates)} | ${change(plain.rates, tls.rates)} |`,
    `| round trip p50 (µs) | ${micros(plain.p50s)} | ${micros(tls.p50s)} | ${change(plain.p50s, tls.p50s)} |`,
    `| round trip p99 (µs) | ${micros(plain.p99s)} | ${micros(tls.p99s)} | ${change(plain.p99s, tls.p99s)} |`,
  ].join('\n'),
);
