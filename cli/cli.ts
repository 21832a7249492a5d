#!/usr/bin/env node

// The zabkv command. A plain `zabkv get`, `put` or `del` runs without building the commander
// program (cli/fast-path.ts, cli/run-fast.ts): it loads only node:http and the few files it
// uses, and this file imports nothing up front so that they all load at once. Everything else,
// and every invocation that is not plainly valid, goes to the full program (program.ts).

const { runCli } = await import('./run-fast.js');
await runCli(process.argv.slice(2));
