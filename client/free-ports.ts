import { createServer } from 'node:net';

/** Whether `port` can be listened on at 127.0.0.1 right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive ports that are free on loopback now, searched from a
 * random start in [20 000, 40 000) (LocalCluster numbers node n's ports from a first one).
 */
export async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * 20_000);
    let free = true;
    for (let port = first; port < first + count && free; port++) free = await portIsFree(port);
    if (free) return first;
  }
  throw new Error(`no ${count} consecutive free ports`);
}
