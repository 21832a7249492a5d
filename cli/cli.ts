#!/usr/bin/env node
import { fastInvocation } from './fast-path.js';

// The zabkv command. A plain `zabkv get`, `put` or `del` runs without building the commander
// program (cli/fast-path.ts): it loads only node:http and the few files it uses. Everything
// else, and every invocation that is not plainly valid, goes to the full program (program.ts).

const fast = fastInvocation(process.argv.slice(2));
if (fast === null) {
  await import('./program.js');
} else {
  const { runFast } = await import('./run-fast.js');
  await runFast(fast);
}
