import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every module a file loads before it runs: its static, value imports and theirs, followed
 * through the project's own files. Commands load the rest with `import()` when they run, so
 * `zabkv get` pays for neither the node host nor the simulator nor the plotting libraries.
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
  const { files, packages } = staticClosure('cli/program.ts');

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

  it('get, put, del, ls and status load node:http, not undici (client/one-shot.ts)', () => {
    for (const entry of [
      'cli/kv-commands.ts',
      'cli/list-command.ts',
      'client/status-table.ts',
      'cli/run-fast.ts',
    ]) {
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
    expect(packages.has('node:module')).toBe(true);
  });
});

describe('a plain get, put or del loads no package at all (cli/fast-path.ts)', () => {
  it('the entry point imports nothing up front, the fast path no package', () => {
    const entry = staticClosure('cli/cli.ts');
    expect([...entry.files, ...entry.packages]).toEqual([normalize('cli/cli.ts')]);
    const fast = staticClosure('cli/run-fast.ts');
    expect([...fast.packages].filter((name) => !name.startsWith('node:'))).toEqual([]);
    expect(fast.files.has(normalize('cli/fast-path.ts'))).toBe(true);
  });

  /**
   * The packages (CommonJS modules under node_modules, commander among them, whether
   * required or imported) loaded by one run of the built CLI. The static walk above cannot see
   * a `createRequire(...)('commander')`; this can.
   */
  function packagesLoaded(args: string[]): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'zabkv-lazy-'));
    try {
      const probe = join(dir, 'probe.cjs');
      writeFileSync(
        probe,
        "process.on('exit', () => require('node:fs').writeSync(3, JSON.stringify(Object.keys(require.cache))));",
      );
      const run = spawnSync(process.execPath, ['--require', probe, 'dist/cli/cli.js', ...args], {
        encoding: 'utf8',
        env: { ...process.env, ZABKV_ENDPOINTS: '' },
        stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      });
      const loaded = JSON.parse(String(run.output[3])) as string[];
      return loaded.filter((file) => file.includes('node_modules'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('`zabkv get`, `put` and `del` load no package, not even commander', () => {
    expect(packagesLoaded(['get', 'k', '--endpoints', '127.0.0.1:1'])).toEqual([]);
    expect(packagesLoaded(['put', 'k', 'v', '--endpoints', '127.0.0.1:1', '-w', 'json'])).toEqual(
      [],
    );
    expect(packagesLoaded(['del', 'k', '--endpoints', '127.0.0.1:1'])).toEqual([]);
  });

  it('an invocation the fast path leaves to commander does load it (the probe sees packages)', () => {
    const loaded = packagesLoaded(['get', 'k', '--endpoints=127.0.0.1:1']);
    expect(loaded.some((file) => /node_modules[\\/]commander[\\/]/.test(file))).toBe(true);
  });
});
