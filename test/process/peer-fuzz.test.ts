/**
 * Hostile peers against real processes (issue 11, item 1; reference/security.md §3 row 16):
 * connections to every node's peer port that pass the handshake (TLS off) and then send
 * thousands of schema-valid but hostile ZAB, overlay and bootstrap messages (random fields from
 * a seeded generator, impossible epochs and zxids, the sequence of a follower registering and
 * acknowledging, replays) while clients write.
 *
 * First under an id that is not a member: nothing may change (no process exits, the group
 * keeps its leader and epoch, writes keep succeeding, every acknowledged write reads back, no
 * forged write lands). Then, briefly, impersonating members: the group may be disturbed (that
 * is what TLS is for), but no process exits and it serves again within seconds.
 */
import { connect, type Socket } from 'node:net';
import { setImmediate as yieldToIo, setTimeout as sleep } from 'node:timers/promises';
import { Kind, OptionalKind, type TSchema } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapMessages, BOOTSTRAP_SERVER } from '../../bootstrap/bootstrap-messages.js';
import { LookupTable } from '../../bootstrap/lookup-table.js';
import { LocalCluster, httpUrl } from '../../client/local-cluster.js';
import { ZabkvClient } from '../../client/zabkv-client.js';
import { failureDetectorMessages } from '../../components/fd/index.js';
import { encodeFrame } from '../../components/network/frame-codec.js';
import { helloFrame } from '../../components/network/handshake.js';
import { nodeId, type NodeId } from '../../components/network/node-id.js';
import { SeededRandom } from '../../components/random/seeded-random.js';
import { forwardingMessages, LEADER_HOP, ROUTE_HOP } from '../../kv/forwarding-messages.js';
import { encodeOperation } from '../../kv/kv-operation.js';
import { makeZxid, MAX_EPOCH } from '../../kv/zxid.js';
import { peerMessages } from '../../node/peer-messages.js';
import { DEFAULT_REPLICA_TIMING } from '../../replica/replica-config.js';
import { overlayMessages } from '../../overlay/overlay-messages.js';
import { zabMessages } from '../../replica/zab-messages.js';
import { CLI, clusterPorts, testDirectory, until } from './node-processes.js';

const NODES = 3;
const OUTSIDER = nodeId(50);
const FUZZ_PREFIX = 'fuzz-';
const INIT_LIMIT_MS = DEFAULT_REPLICA_TIMING.initLimitTicks * DEFAULT_REPLICA_TIMING.tickMs;

// ---- the cluster and its clients ------------------------------------------------------------

const dataDir = testDirectory('zabkv-peer-fuzz-');
let cluster: LocalCluster;
const exits: string[] = [];
const clients = new Map<number, ZabkvClient>();

function client(node: number): ZabkvClient {
  let c = clients.get(node);
  if (c === undefined) {
    c = new ZabkvClient({ nodes: [httpUrl(cluster.options, node)], timeoutMs: 3_000, attempts: 1 });
    clients.set(node, c);
  }
  return c;
}

const peerPort = (node: number) => cluster.options.firstPeerPort + node - 1;

interface GroupView {
  leader: number | null;
  epoch?: number;
  lastZxid?: number;
}

async function group(node: number): Promise<GroupView> {
  const view = (await client(node).cluster()) as { groups: GroupView[] };
  return view.groups[0]!;
}

/** Every node alive (no exit seen) and answering /livez. */
async function expectAllAlive(): Promise<void> {
  expect(exits).toEqual([]);
  for (let node = 1; node <= NODES; node++) {
    const response = await fetch(`${httpUrl(cluster.options, node)}/livez`);
    expect(response.status).toBe(200);
  }
}

/** Sum of zabkv_peer_messages_rejected_total over its reasons, at `node`. */
async function rejectedAt(node: number): Promise<number> {
  const text = await (await fetch(`${httpUrl(cluster.options, node)}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('zabkv_peer_messages_rejected_total{'))
      sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

/** Closed-loop writers, one per node, each on its own keys; what was acknowledged is kept. */
class Writers {
  readonly acked = new Map<string, number>();
  succeeded = 0;
  failed = 0;
  private running = true;
  private readonly loops: Promise<void>[];

  constructor() {
    this.loops = Array.from({ length: NODES }, (_, i) => this.loop(i + 1));
  }

  private async loop(node: number): Promise<void> {
    for (let i = 0; this.running; i++) {
      const key = `w-${node}-${i % 5}`;
      try {
        const version = Number(await client(node).put(key, `${node}-${i}`));
        this.acked.set(key, Math.max(this.acked.get(key) ?? 0, version));
        this.succeeded++;
      } catch {
        this.failed++; // 503 or 504: allowed, but writes must keep succeeding overall
        await sleep(20);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

// ---- the fuzzer -------------------------------------------------------------------------------

/** What the attacker learned from /cluster: enough for protocol-shaped sequences. */
interface Target {
  readonly epoch: number;
  readonly lastZxid: number;
}

/** A random value of a TypeBox schema (the shapes the message catalogue uses). */
function generate(schema: TSchema, random: SeededRandom): unknown {
  switch (schema[Kind]) {
    case 'Object': {
      const value: Record<string, unknown> = {};
      const properties = (schema as unknown as { properties: Record<string, TSchema> }).properties;
      for (const [key, property] of Object.entries(properties)) {
        if (property[OptionalKind] === 'Optional' && random.chance(0.5)) continue;
        value[key] = generate(property, random);
      }
      return value;
    }
    case 'Integer': {
      const min = (schema['minimum'] as number | undefined) ?? -1_000_000;
      const max = (schema['maximum'] as number | undefined) ?? Number.MAX_SAFE_INTEGER;
      const pick = random.int(0, 3);
      if (pick === 0) return min;
      if (pick === 1) return max;
      if (pick === 2) return random.int(min, Math.min(max, min + 100));
      return random.int(min, Math.min(max, 2 ** 48));
    }
    case 'Boolean':
      return random.chance(0.5);
    case 'Literal':
      return schema['const'];
    case 'Union':
      return generate(random.pick(schema['anyOf'] as TSchema[]), random);
    case 'Array': {
      const min = (schema['minItems'] as number | undefined) ?? 0;
      const max = Math.min((schema['maxItems'] as number | undefined) ?? 6, min + 6);
      return Array.from({ length: random.int(min, max) }, () =>
        generate(schema['items'] as TSchema, random),
      );
    }
    case 'Tuple':
      return (schema['items'] as TSchema[]).map((item) => generate(item, random));
    case 'Uint8Array': {
      const max = Math.min((schema['maxByteLength'] as number | undefined) ?? 256, 256);
      return new Uint8Array(random.int(0, max)).map(() => random.int(0, 255));
    }
    case 'String': {
      const min = (schema['minLength'] as number | undefined) ?? 0;
      const max = Math.min((schema['maxLength'] as number | undefined) ?? 16, min + 16);
      return 'x'.repeat(random.int(min, max));
    }
    default:
      throw new Error(`no generator for schema kind ${String(schema[Kind])}`);
  }
}

const SCHEMAS: Record<string, TSchema> = {
  ...zabMessages,
  ...overlayMessages,
  ...forwardingMessages,
  ...bootstrapMessages,
  ...failureDetectorMessages,
};
const KINDS = Object.keys(SCHEMAS);

/**
 * One hostile peer: claims `claim` in its Hello to `node`, then sends frames. A frame the node
 * refuses (it closes the connection) is answered by dialling again.
 */
class HostilePeer {
  private socket: Socket | null = null;
  sent = 0;
  reconnects = 0;

  constructor(
    private readonly node: number,
    private readonly claim: NodeId,
    private readonly random: SeededRandom,
    private readonly target: () => Target,
  ) {}

  private async open(): Promise<Socket> {
    if (this.socket !== null && !this.socket.destroyed) return this.socket;
    const socket = connect({ host: '127.0.0.1', port: peerPort(this.node), noDelay: true });
    socket.on('error', () => {});
    socket.on('data', () => {});
    await new Promise<void>((resolve) => {
      socket.once('connect', resolve);
      socket.once('close', resolve);
    });
    if (this.socket !== null) this.reconnects++;
    this.socket = socket;
    socket.write(helloFrame('zabkv', this.claim, nodeId(this.node)));
    return socket;
  }

  private async write(message: Record<string, unknown>): Promise<void> {
    const value = { ...message, src: this.claim, dst: message['dst'] ?? this.node };
    const reason = peerMessages.invalid(value);
    if (reason !== null) throw new Error(`the fuzzer made an invalid message: ${reason}`);
    const socket = await this.open();
    this.sent++;
    // Let sockets flush and the clients' answers in: a loop of resolved awaits would not.
    if (this.sent % 16 === 0) await yieldToIo();
    // Refused or closed (a node that is gone, or one that dropped us): dial again next time.
    if (socket.destroyed) return;
    if (!socket.write(encodeFrame(value)) && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('drain', resolve);
        socket.once('close', resolve);
      });
    }
  }

  /** A random message of a random kind, with its fields bent toward the harmful values. */
  private randomMessage(): Record<string, unknown> {
    const kind = this.random.pick(KINDS);
    const message = generate(SCHEMAS[kind]!, this.random) as Record<string, unknown>;
    message['kind'] = kind;
    const { epoch, lastZxid } = this.target();
    const r = this.random;
    for (const key of Object.keys(message)) {
      if (key === 'group' && r.chance(0.8)) message[key] = 0;
      if (['epoch', 'acceptedEpoch', 'peerEpoch'].includes(key)) {
        message[key] = r.pick([epoch, epoch + 1, MAX_EPOCH - 1, MAX_EPOCH, message[key]]);
      }
      if (key === 'currentEpoch') message[key] = r.pick([-1, epoch, MAX_EPOCH, message[key]]);
      if (['zxid', 'lastZxid', 'committed'].includes(key)) {
        message[key] = r.pick([
          makeZxid(epoch, 0),
          lastZxid,
          lastZxid + 1,
          makeZxid(epoch, 0x8000_0000),
          makeZxid(MAX_EPOCH, 1),
          message[key],
        ]);
      }
      if (key === 'leader' && kind !== 'zab.Vote') {
        message[key] = r.pick([-1, 1, 2, 3, OUTSIDER, 60]);
      }
    }
    if (
      kind === 'bootstrap.CheckIn' ||
      kind === 'bootstrap.Member' ||
      (kind === 'bootstrap.Table' && r.chance(0.5))
    ) {
      message['dst'] = BOOTSTRAP_SERVER;
      if (this.node !== 1) message['dst'] = this.node; // only node 1 answers to the alias
    }
    if (kind === 'kv.Request') {
      message['payload'] = encodeOperation(
        r.chance(0.8)
          ? { op: 'put', key: `${FUZZ_PREFIX}${r.int(0, 999)}`, value: new Uint8Array(8) }
          : { op: 'delete', key: `w-${r.int(1, NODES)}-${r.int(0, 4)}` },
      );
    }
    return message;
  }

  /**
   * The sequence of the attack: register, promise, acknowledge NEWLEADER, acknowledge
   * a proposal never made; then replays of it, out of order.
   */
  private async registerAndLie(): Promise<void> {
    const { epoch, lastZxid } = this.target();
    const session = this.random.int(1, 2 ** 40);
    const s = { kind: '', group: 0, session };
    const frames = [
      {
        ...s,
        kind: 'zab.FollowerInfo',
        seq: 0,
        acceptedEpoch: Math.max(0, epoch - 1),
        voter: true,
      },
      { ...s, kind: 'zab.AckEpoch', seq: 1, currentEpoch: -1, lastZxid, epochEnds: [lastZxid] },
      { ...s, kind: 'zab.Ack', seq: 2, zxid: makeZxid(epoch, 0) },
      { ...s, kind: 'zab.Ack', seq: 3, zxid: makeZxid(epoch, 0x8000_0000) },
      { ...s, kind: 'zab.Pong', seq: 4, round: 2 ** 40, spaceLow: false, roomy: true },
      { ...s, kind: 'zab.ReadIndex', seq: 5, round: 1 },
    ].filter((frame) => peerMessages.has(frame.kind));
    for (const frame of frames) await this.write(fit(frame));
    for (const frame of this.random.chance(0.5) ? frames : [...frames].reverse()) {
      await this.write(fit(frame));
    }
  }

  /** A forged lookup table naming the attacker, and check-ins that try to move node 2. */
  private async bootstrapLies(): Promise<void> {
    const nodes = [1, 2, 3, OUTSIDER].map((id) => ({
      id,
      peer: { host: '10.6.6.6', port: 7_000 + id },
      http: { host: '10.6.6.6', port: 8_000 + id },
    }));
    const table = LookupTable.assign(2, nodes, 3).toData();
    await this.write(fit({ kind: 'bootstrap.Table', table, nonce: this.random.int(0, 2 ** 40) }));
    if (this.node === 1) {
      // A bootstrap node that holds its table takes none from a member.
      await this.write(fit({ kind: 'bootstrap.Member', dst: BOOTSTRAP_SERVER, table }));
      await this.write(
        fit({
          kind: 'bootstrap.CheckIn',
          dst: BOOTSTRAP_SERVER,
          address: { ...nodes[1]!, id: this.claim },
          nonce: 1,
        }),
      );
    }
  }

  /** A route-hop and a leader-hop write, as a peer would forward a client's. */
  private async forwardedWrites(): Promise<void> {
    for (const hop of [ROUTE_HOP, LEADER_HOP]) {
      const key = `${FUZZ_PREFIX}${this.random.int(0, 999)}`;
      const payload = encodeOperation({ op: 'put', key, value: new Uint8Array(4) });
      await this.write({ kind: 'kv.Request', hop, group: 0, requestId: this.sent, payload });
    }
  }

  /** Sends `count` messages: mostly random ones, with the shaped sequences mixed in. */
  async run(count: number): Promise<void> {
    while (this.sent < count) {
      const pick = this.random.int(0, 19);
      if (pick === 0) await this.registerAndLie();
      else if (pick === 1) await this.bootstrapLies();
      else if (pick === 2) await this.forwardedWrites();
      else await this.write(this.randomMessage());
    }
  }

  close(): void {
    this.socket?.destroy();
  }
}

/** Drops the fields the catalogue does not know for a kind (it may lack `spaceLow`, `nonce`). */
function fit(message: Record<string, unknown>): Record<string, unknown> {
  const schema = SCHEMAS[message['kind'] as string] as unknown as {
    properties: Record<string, TSchema>;
  };
  const fitted: Record<string, unknown> = { kind: message['kind'] };
  if ('dst' in message) fitted['dst'] = message['dst'];
  for (const [key, property] of Object.entries(schema.properties)) {
    if (key in message) fitted[key] = message[key];
    else if (property[OptionalKind] !== 'Optional')
      fitted[key] = generate(property, new SeededRandom(1));
  }
  return fitted;
}

async function attack(claims: (node: number) => NodeId[], perPeer: number, seed: number) {
  let target: Target = { epoch: 1, lastZxid: 0 };
  const refresh = async (): Promise<void> => {
    const view = await group(2);
    target = { epoch: view.epoch ?? 1, lastZxid: view.lastZxid ?? 0 };
  };
  await refresh();
  const random = new SeededRandom(seed);
  const peers: HostilePeer[] = [];
  for (let node = 1; node <= NODES; node++) {
    for (const claim of claims(node)) {
      peers.push(new HostilePeer(node, claim, random.fork(`${node}-${claim}`), () => target));
    }
  }
  const refreshing = setInterval(() => void refresh().catch(() => {}), 500);
  try {
    await Promise.all(peers.map((peer) => peer.run(perPeer)));
  } finally {
    clearInterval(refreshing);
    for (const peer of peers) peer.close();
  }
  return peers.reduce((sum, peer) => sum + peer.sent, 0);
}

// ---- the test ---------------------------------------------------------------------------------

beforeAll(async () => {
  cluster = new LocalCluster({
    nodes: NODES,
    replication: NODES,
    dataDir,
    ...(await clusterPorts(NODES)),
    cli: CLI,
    env: { LOG_LEVEL: 'warn' },
  });
  cluster.start();
  for (let node = 1; node <= NODES; node++) {
    cluster
      .process(node)!
      .once('exit', (code, signal) => exits.push(`node ${node}: ${code ?? signal}`));
  }
  await cluster.ready(45_000);
}, 60_000);

afterAll(async () => {
  for (const c of clients.values()) await c.close();
  await cluster?.stop();
}, 60_000);

describe('hostile peers on real processes', () => {
  it('messages from a non-member change nothing: no exit, same leader, writes go on, nothing lost', async () => {
    const before = await group(1);
    expect(before.leader).not.toBeNull();
    const writers = new Writers();
    await until('writes to start', async () => (writers.succeeded > 3 ? true : undefined));
    const startedWith = writers.succeeded;
    const sent = await attack(() => [OUTSIDER], 2_500, 11_01);
    expect(sent).toBeGreaterThanOrEqual(NODES * 2_500);
    await expectAllAlive();
    // Writes kept succeeding during the attack, under the same leader in the same epoch.
    expect(writers.succeeded - startedWith).toBeGreaterThan(10);
    const after = await group(1);
    expect({ leader: after.leader, epoch: after.epoch }).toEqual({
      leader: before.leader,
      epoch: before.epoch,
    });
    await writers.stop();
    // Every acknowledged write reads back (a linearizable read, from another node).
    for (const [key, version] of writers.acked) {
      const node = (Number(key.split('-')[1]) % NODES) + 1;
      expect(Number((await client(node).get(key)).version)).toBeGreaterThanOrEqual(version);
    }
    // No forged write landed.
    for (let i = 0; i < 1_000; i += 37) {
      await expect(client(1).get(`${FUZZ_PREFIX}${i}`)).rejects.toMatchObject({ status: 404 });
    }
    for (let node = 1; node <= NODES; node++) expect(await rejectedAt(node)).toBeGreaterThan(0);
  }, 60_000);

  it(
    'messages impersonating members may disturb the group, but no process exits and it serves again',
    async () => {
      const writers = new Writers();
      const others = (node: number) =>
        Array.from({ length: NODES }, (_, i) => nodeId(i + 1)).filter((id) => id !== node);
      await attack(others, 600, 11_02);
      await expectAllAlive();
      await writers.stop();
      // A forged election can leave a node leading (or following) a group no real member
      // joined; it gives up after initLimit, as ZooKeeper's does, and a real election follows.
      // Two such waits in a row are possible, so the bound is twice that, with room for a
      // loaded machine.
      await cluster.ready(2 * INIT_LIMIT_MS + 15_000);
      await until('a write after the impersonation', async () =>
        (await client(2).put('after-impersonation', 'ok')) ? true : undefined,
      );
      await expectAllAlive();
    },
    2 * INIT_LIMIT_MS + 60_000,
  );
});
