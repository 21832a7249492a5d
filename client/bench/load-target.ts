import { Pool } from 'undici';
import { ZabkvClient } from '../zabkv-client.js';

/** What the load generator drives: one store, whichever it is. */
export interface LoadTarget {
  readonly name: string;
  put(key: string, value: Buffer): Promise<void>;
  get(key: string, consistency: 'linearizable' | 'stale'): Promise<void>;
  close(): Promise<void>;
}

export class ZabkvTarget implements LoadTarget {
  readonly name = 'zabkv';
  private readonly client: ZabkvClient;

  constructor(nodes: readonly string[], connections: number) {
    // One attempt: the generator counts a 503 as an error instead of hiding it in a retry.
    this.client = new ZabkvClient({ nodes, connections, attempts: 1 });
  }

  async put(key: string, value: Buffer): Promise<void> {
    await this.client.put(key, value);
  }

  async get(key: string, consistency: 'linearizable' | 'stale'): Promise<void> {
    try {
      await this.client.get(key, consistency);
    } catch (error) {
      if ((error as { status?: number }).status !== 404) throw error;
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

  async get(key: string, consistency: 'linearizable' | 'stale'): Promise<void> {
    await this.post('/v3/kv/range', { key: b64(key), serializable: consistency === 'stale' });
  }

  close(): Promise<void> {
    return Promise.all(this.pools.map((p) => p.close())).then(() => {});
  }

  private async post(path: string, body: unknown): Promise<void> {
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
  }
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}
