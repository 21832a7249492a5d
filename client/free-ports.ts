import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Whether `port` can be listened on at 127.0.0.1 right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

const LOWEST_PORT = 10_000;

/**
 * Where to look for free ports: from 10,000 up to the kernel's ephemeral range (Linux
 * /proc/sys/net/ipv4/ip_local_port_range, 32768–60999 by default). A port inside that range can
 * be taken as the source port of any outgoing connection between the check and a node's listen
 * (EADDRINUSE: seen in a CI run, with several clusters connecting at once); one below it cannot.
 */
function searchEnd(): number {
  try {
    const start = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    if (Number.isInteger(start) && start > LOWEST_PORT + 1_000) return start;
  } catch {
    // Not Linux: macOS and Windows start their ephemeral ports at 49152.
  }
  return 32_768;
}

/**
 * The first of `count` consecutive ports that are free on loopback now, searched from a
 * random start below the ephemeral range (LocalCluster numbers node n's ports from a first one).
 */
export async function freePorts(count: number): Promise<number> {
  const end = searchEnd() - count;
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = LOWEST_PORT + Math.floor(Math.random() * (end - LOWEST_PORT));
    let free = true;
    for (let port = first; port < first + count && free; port++) free = await portIsFree(port);
    if (free) return first;
  }
  throw new Error(`no ${count} consecutive free ports`);
}
