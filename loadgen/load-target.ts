import { Pool } from 'undici';
import { ZabkvClient, type ClientOptions } from '../client/zabkv-client.js';

/** What the load generator drives: one store, whichever it is. */
export interface LoadTarget {
  readonly name: string;
  put(key: string, value: Buffer): Promise<void>;
  /** The value, or null when the key has none. */
  get(key: string, consistency: 'linearizable' | 'stale'): Promise<Buffer | null>;
  close(): Promise<void>;
  /**
   * Writes `value` under every key in one request, for preloads only (the load generator
   * measures single puts); absent where the store has no multi-key write.
   */
  putMany?(keys: readonly string[], value: Buffer): Promise<void>;
}

export class ZabkvTarget implements LoadTarget {
  readonly name = 'zabkv';
  private readonly client: ZabkvClient;

  /** `security`: the token and CA of a secured cluster (ZabkvClient's options). */
  constructor(
    nodes: readonly string[],
    connections: number,
    security: Omit<ClientOptions, 'nodes'> = {},
  ) {
    // One attempt: the generator counts a 503 as an error instead of hiding it in a retry.
    this.client = new ZabkvClient({ ...security, nodes, connections, attempts: 1 });
  }

  async put(key: string, value: Buffer): Promise<void> {
    await this.client.put(key, value);
  }

  async get(key: string, consistency: 'linearizable' | 'stale'): Promise<Buffer | null> {
    try {
      return (await this.client.get(key, consistency)).value;
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
      return null;
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/**
 * etcd through its v3 JSON gateway (keys and values base64): `serializable` reads are etcd's
 * local reads, the default ones linearizable (ReadIndex).
 */
export class EtcdTarget implements LoadTarget {
  readonly name = 'etcd';
  private readonly pools: Pool[];
  private next = 0;

  constructor(endpoints: readonly string[], connections: number) {
    this.pools = endpoints.map((url) => new Pool(url, { connections, keepAliveTimeout: 30_000 }));
  }

  async put(key: string, value: Buffer): Promise<void> {
    await this.post('/v3/kv/put', { key: b64(key), value: value.toString('base64') });
  }

  /** One transaction of puts (etcd allows 128 operations per transaction by default). */
  async putMany(keys: readonly string[], value: Buffer): Promise<void> {
    const encoded = value.toString('base64');
    await this.post('/v3/kv/txn', {
      success: keys.map((key) => ({ requestPut: { key: b64(key), value: encoded } })),
    });
  }

  async get(key: string, consistency: 'linearizable' | 'stale'): Promise<Buffer | null> {
    const body = (await this.post('/v3/kv/range', {
      key: b64(key),
      serializable: consistency === 'stale',
    })) as { kvs?: { value?: string }[] };
    const value = body.kvs?.[0]?.value;
    return value === undefined ? null : Buffer.from(value, 'base64');
  }

  close(): Promise<void> {
    return Promise.all(this.pools.map((p) => p.close())).then(() => {});
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    const pool = this.pools[this.next++ % this.pools.length]!;
    const response = await pool.request({
      method: 'POST',
      path,
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) {
      throw Object.assign(new Error(`etcd ${response.statusCode}: ${text.slice(0, 200)}`), {
        status: response.statusCode,
      });
    }
    return JSON.parse(text) as unknown;
  }
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

/** The part of the `zookeeper` npm client (the official C client underneath) used here. */
interface ZooKeeperClient {
  init(config: Record<string, unknown>): void;
  on(event: 'connect', callback: () => void): void;
  create(path: string, data: Buffer | string, flags: number): Promise<string>;
  set(path: string, data: Buffer, version: number): Promise<unknown>;
  get(path: string, watch: boolean): Promise<unknown>;
  sync(path: string): Promise<unknown>;
  close(): void;
}

type ZooKeeperClass = new (config: Record<string, unknown>) => ZooKeeperClient;

const ZNODE_ROOT = '/zabkv-bench';
/** How the client rejects a create of an existing znode: `${rc} ${text}`, ZNODEEXISTS = -110. */
const ZNODE_EXISTS = '-110 ';
const CONNECT_TIMEOUT_MS = 60_000;
/** Creates in flight while preparing the znodes. */
const CREATES_IN_FLIGHT = 1_024;
/** Ensembles (and key spaces) whose znodes this process already created. */
const prepared = new Set<string>();

/**
 * ZooKeeper through the `zookeeper` npm client: setData/getData on pre-created znodes, one
 * per key. A `stale` read is ZooKeeper's plain (local) read; a `linearizable` one is sync +
 * read, the closest ZooKeeper offers (it is not linearizable either: ZOOKEEPER-1675).
 */
export class ZooKeeperTarget implements LoadTarget {
  readonly name = 'zookeeper';
  private next = 0;

  private constructor(private readonly sessions: ZooKeeperClient[]) {}

  static async connect(
    hosts: readonly string[],
    sessions: number,
    keySpace: number,
    onCreated?: (created: number) => void,
  ): Promise<ZooKeeperTarget> {
    let ZooKeeper: ZooKeeperClass;
    try {
      ZooKeeper = ((await import('zookeeper')) as unknown as { default: ZooKeeperClass }).default;
    } catch (error) {
      throw new Error(
        `the optional dependency 'zookeeper' is not installed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const config = {
      connect: hosts.join(','),
      timeout: 10_000,
      debug_level: 1,
      host_order_deterministic: false,
    };
    // The client retries forever on its own, so an ensemble that never forms would hang here.
    const clients = Array.from({ length: Math.max(1, sessions) }, () => new ZooKeeper(config));
    const target = new ZooKeeperTarget(clients);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(
          clients.map((client) => {
            const connected = new Promise<void>((resolve) => client.on('connect', resolve));
            client.init(config);
            return connected;
          }),
        ),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no ZooKeeper session in ${CONNECT_TIMEOUT_MS} ms`)),
            CONNECT_TIMEOUT_MS,
          );
        }),
      ]);
      clearTimeout(timer);
      const ensemble = `${config.connect}/${keySpace}`;
      if (!prepared.has(ensemble)) {
        await target.prepare(keySpace, onCreated);
        prepared.add(ensemble);
      }
    } catch (error) {
      clearTimeout(timer);
      await target.close();
      throw error;
    }
    return target;
  }

  /**
   * One znode per key, created once: an existing one is fine, any other failure (a connection
   * lost while the ensemble settles) is retried.
   */
  private async prepare(
    keySpace: number,
    onCreated: (created: number) => void = () => {},
  ): Promise<void> {
    let failures = 0;
    let created = 0;
    const create = async (path: string): Promise<void> => {
      for (;;) {
        try {
          await this.session().create(path, '', 0);
          return;
        } catch (error) {
          const message = (error as Error).message;
          if (message.startsWith(ZNODE_EXISTS)) return;
          if (++failures > keySpace)
            throw new Error(`creating znodes: more failures than keys, the last: ${message}`, {
              cause: error,
            });
        }
      }
    };
    await create(ZNODE_ROOT);
    // A sliding window, not lockstep batches: ZooKeeper commits many creates per fsync when
    // they arrive together, and no create waits for the slowest of a batch.
    let next = 0;
    const creator = async (): Promise<void> => {
      while (next < keySpace) {
        await create(`${ZNODE_ROOT}/key-${next++}`);
        created++;
      }
    };
    const progress = setInterval(() => onCreated(created), 5_000);
    try {
      await Promise.all(Array.from({ length: Math.min(keySpace, CREATES_IN_FLIGHT) }, creator));
    } finally {
      clearInterval(progress);
    }
  }

  private session(): ZooKeeperClient {
    return this.sessions[this.next++ % this.sessions.length]!;
  }

  async put(key: string, value: Buffer): Promise<void> {
    await this.session().set(`${ZNODE_ROOT}/${key}`, value, -1);
  }

  async get(key: string, consistency: 'linearizable' | 'stale'): Promise<Buffer | null> {
    const session = this.session();
    const path = `${ZNODE_ROOT}/${key}`;
    if (consistency === 'linearizable') await session.sync(path);
    const [, data] = (await session.get(path, false)) as [unknown, Buffer | string | null];
    return data === null || data.length === 0 ? null : Buffer.from(data);
  }

  async close(): Promise<void> {
    for (const session of this.sessions) session.close();
  }
}
