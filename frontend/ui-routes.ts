import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { UiAggregator } from './ui-aggregator.js';
import type { UiSource } from './ui-state.js';

/**
 * The dashboard's files: the page and its script from `frontend/ui/` of the package (the same
 * folder whether this runs from the sources or from dist/, found by walking up to the package
 * root), and uPlot from its npm package. Read once; there is no build step for them.
 */
const ASSETS: Readonly<Record<string, { readonly file: () => string; readonly type: string }>> = {
  'dashboard.js': { file: () => join(uiFolder(), 'dashboard.js'), type: 'text/javascript' },
  'dashboard.css': { file: () => join(uiFolder(), 'dashboard.css'), type: 'text/css' },
  'uPlot.min.js': {
    file: () => createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript',
  },
  'uPlot.min.css': {
    file: () => createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'),
    type: 'text/css',
  },
};

let folder: string | null = null;

/** `<package root>/frontend/ui`: the nearest folder above this file with a package.json. */
export function uiFolder(): string {
  if (folder !== null) return folder;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('the zabkv package root (package.json) was not found');
    dir = parent;
  }
  folder = join(dir, 'frontend', 'ui');
  return folder;
}

const cache = new Map<string, Buffer>();
function read(file: string): Buffer {
  let content = cache.get(file);
  if (content === undefined) {
    content = readFileSync(file);
    cache.set(file, content);
  }
  return content;
}

export interface UiRoutes {
  readonly source: UiSource;
  readonly aggregator: UiAggregator;
}

/** GET /ui, /ui/assets/:name, /ui/state and /ui/node. */
export function registerUiRoutes(app: FastifyInstance, ui: UiRoutes): void {
  app.get('/ui', (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(read(join(uiFolder(), 'index.html'))),
  );
  app.get('/ui/assets/:name', (request, reply) => {
    const name = (request.params as { name: string }).name;
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (asset === undefined) return reply.callNotFound();
    return reply.type(asset.type).header('cache-control', 'max-age=60').send(read(asset.file()));
  });
  app.get('/ui/node', (request, reply) => {
    const since = Number((request.query as { since?: string }).since ?? 0);
    return reply.send(ui.source.nodeView(Number.isFinite(since) && since > 0 ? since : 0));
  });
  app.get('/ui/state', async (request, reply) =>
    reply
      .header('cache-control', 'no-store')
      .send(await ui.aggregator.state(request.headers.authorization)),
  );
}
