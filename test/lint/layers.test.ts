import { readdirSync } from 'node:fs';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { layers } from '../../eslint.config.js';

// Imports between top-level folders run one way (README, "Layout"). This proves the lint
// rule that enforces it is up: a planted import from a folder into one above it fails.
describe('one-way folder layers', () => {
  const eslint = new ESLint();
  const restricted = async (filePath: string, code: string) => {
    const [result] = await eslint.lintText(code, { filePath });
    return result!.messages.filter((m) => m.ruleId === 'import-x/no-restricted-paths');
  };

  it.each([
    ['replica/x.ts', "import { runDemo } from '../sim/demo.js';\nexport const x = runDemo;"],
    ['kv/x.ts', "export const x = () => import('../cli/cli.js');"],
    ['bootstrap/x.ts', "export { Overlay } from '../overlay/overlay.js';"],
    ['client/x.ts', "export { benchCommand } from '../loadgen/bench-command.js';"],
    ['sim/x.ts', "export { seedsToRun } from '../test/sim/fixtures/seeds.js';"],
  ])('rejects an import upward from %s', async (filePath, code) => {
    expect(await restricted(filePath, code)).toHaveLength(1);
  });

  it('allows imports downward', async () => {
    const code =
      "export { Replica } from '../replica/replica.js';\nexport * from '../kv/kv-port.js';";
    expect(await restricted('node/x.ts', code)).toEqual([]);
  });

  it('places every top-level folder that holds code, test last', () => {
    const skip = new Set(['node_modules', 'dist', 'data', 'docs', 'experiments']);
    const folders = readdirSync('.', { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !skip.has(e.name))
      .map((e) => e.name);
    expect([...folders].sort()).toEqual([...layers].sort());
    expect(layers.at(-1)).toBe('test');
  });
});
