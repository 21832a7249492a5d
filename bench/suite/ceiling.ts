// The load generator's own ceiling: the same writes against a trivial in-memory HTTP server,
// so a reader can tell whether a system or the client was the limit.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ZabkvTarget } from '../../loadgen/load-target.js';
import { Cells, WRITES, measureOnce, type Settings } from './measure.js';

export const TRIVIAL = 'trivial HTTP server';
export const CEILING_CLIENTS = 64;

export async function runCeiling(settings: Settings): Promise<Cells> {
  const trivial = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.end('{"version":"1"}'));
  });
  await new Promise<void>((resolve) => trivial.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(trivial.address() as AddressInfo).port}`;
  const cells = new Cells();
  try {
    for (let repeat = 0; repeat < settings.repeats; repeat++) {
      await measureOnce(
        cells,
        settings,
        TRIVIAL,
        async (clients) => new ZabkvTarget([url], clients),
        WRITES,
        CEILING_CLIENTS,
        repeat,
      );
    }
  } finally {
    // closeAllConnections: keep-alive sockets would otherwise hold close() open.
    trivial.closeAllConnections();
    await new Promise((resolve) => trivial.close(resolve));
  }
  return cells;
}
