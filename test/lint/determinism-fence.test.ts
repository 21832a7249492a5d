import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The lint config fences protocol folders off from time, randomness and I/O (DESIGN §2).
// This proves the fence is up, so a config change cannot quietly take it down.
const forbidden = `
import { readFileSync } from 'node:fs';
export async function handler() {
  setTimeout(() => {}, 1);
  await Promise.resolve(readFileSync('x'));
  return Date.now() + Math.random() + new Date().getTime();
}
`;

describe('determinism fence around protocol code', () => {
  const eslint = new ESLint();

  it.each(['replica/x.ts', 'kv/x.ts', 'overlay/x.ts', 'bootstrap/x.ts', 'components/fd/x.ts'])(
    'rejects clocks, timers, randomness, await and I/O in %s',
    async (filePath) => {
      const [result] = await eslint.lintText(forbidden, { filePath });
      const rules = result!.messages.map((m) => m.ruleId);
      expect(rules.filter((r) => r === 'no-restricted-imports')).toHaveLength(1);
      expect(rules.filter((r) => r === 'no-restricted-globals')).toHaveLength(1);
      expect(rules.filter((r) => r === 'no-restricted-properties')).toHaveLength(2);
      expect(rules.filter((r) => r === 'no-restricted-syntax')).toHaveLength(3);
    },
  );

  it('leaves I/O leaves alone', async () => {
    const [result] = await eslint.lintText(forbidden, { filePath: 'components/network/x.ts' });
    expect(result!.messages.filter((m) => m.ruleId?.startsWith('no-restricted'))).toEqual([]);
  });
});
