// TcpNetwork between two processes on loopback: one-way small-message throughput over one
// connection, and round-trip latency with one message in flight.
import { fork } from 'node:child_process';
import { ComponentSystem, LiveScheduler } from '../components/kernel/index.js';
import { nodeId } from '../components/network/node-id.js';
import { BenchNode } from './net-bench-peer.js';
import { median, writeBenchmarkSection } from './report.js';

const RECEIVER = nodeId(2);
const MESSAGES = 1_000_000;
const BATCH = 5_000;
const PINGS = 5_000;
const RUNS = 5;
const PAYLOAD = 'x'.repeat(8); // with the envelope, a ~40-byte frame

const system = new ComponentSystem({ scheduler: new LiveScheduler() });
const sender = system.createRoot(BenchNode, { self: nodeId(1), port: 0, peers: [] });
sender.start();
const senderPort = await sender.tcp.whenListening();

const child = fork(new URL('./net-bench-receiver.js', import.meta.url), [String(senderPort)], {
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
const tick = () => new Promise((resolve) => setImmediate(resolve));

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
const rates: number[] = [];
const p50s: number[] = [];
const p99s: number[] = [];
for (let run = 0; run < RUNS; run++) {
  rates.push(await throughput());
  const rtt = await roundTrips();
  p50s.push(rtt[Math.floor(rtt.length * 0.5)]!);
  p99s.push(rtt[Math.floor(rtt.length * 0.99)]!);
  console.log(
    `run ${run + 1}: ${Math.round(rates.at(-1)!)} msg/s one way, rtt p50 ${p50s.at(-1)!.toFixed(0)} µs`,
  );
}
child.disconnect();
sender.kill();

writeBenchmarkSection(
  'net',
  'TcpNetwork: small messages between two processes on loopback',
  'npm run bench:net',
  [
    `One connection, ~40-byte frames (${MESSAGES.toLocaleString('en')} per run, sent in batches of ${BATCH.toLocaleString('en')} per tick,`,
    `counted by the receiving process); round trips with one message in flight (${PINGS.toLocaleString('en')} per run).`,
    `Median of ${RUNS} runs. Target: at least 300,000 messages/s one way.`,
    '',
    '| measure | median | range |',
    '| --- | --- | --- |',
    `| one-way throughput (messages/s) | ${Math.round(median(rates)).toLocaleString('en')} | ${Math.round(Math.min(...rates)).toLocaleString('en')}–${Math.round(Math.max(...rates)).toLocaleString('en')} |`,
    `| round trip p50 (µs) | ${median(p50s).toFixed(0)} | ${Math.min(...p50s).toFixed(0)}–${Math.max(...p50s).toFixed(0)} |`,
    `| round trip p99 (µs) | ${median(p99s).toFixed(0)} | ${Math.min(...p99s).toFixed(0)}–${Math.max(...p99s).toFixed(0)} |`,
  ].join('\n'),
);
