import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every module `cli/cli.ts` loads before any command runs: its static, value imports and
 * theirs, followed through the project's own files. Commands load the rest with `import()`
 * when they run, so `zabkv get` pays for neither the node host nor the simulator nor the
 * plotting libraries.
 */
function staticClosure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    // `import x from '…'` and `export … from '…'`, but not `import type` or `import('…')`.
    for (const match of source.matchAll(
      /^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms,
    )) {
      const specifier = match[1]!;
      if (specifier.startsWith('.'))
        visit(normalize(join(dirname(file), specifier.replace(/\.js$/, '.ts'))));
      else packages.add(specifier);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('the CLI loads each command lazily', () => {
  const { files, packages } = staticClosure('cli/cli.ts');

  it('loads no node host, simulator, load generator or plots up front', () => {
    const heavy = [...files].filter((f) =>
      /^(node|sim|loadgen|frontend|replica|overlay|components\/sim)\//.test(f),
    );
    expect(heavy).toEqual([]);
  });

  it('loads none of the heavy packages up front', () => {
    for (const name of ['vega', 'vega-lite', 'fastify', 'lmdb', 'cli-progress', 'pino', 'undici'])
      expect(packages.has(name), name).toBe(false);
  });

  it('get, put, del and status load node:http, not undici (client/one-shot.ts)', () => {
    for (const entry of ['cli/kv-commands.ts', 'client/status-table.ts']) {
      const closure = staticClosure(entry);
      expect(
        [...closure.packages].filter((name) => !name.startsWith('node:')),
        entry,
      ).toEqual([]);
      expect(closure.files.has(normalize('client/zabkv-client.ts')), entry).toBe(false);
    }
  });

  it('does follow the imports it names (the walk is not empty)', () => {
    expect(files.has(normalize('cli/flags.ts'))).toBe(true);
    expect(packages.has('commander')).toBe(true);
  });
});
