// The `zabkv` command as installed (package.json `bin`): what cli.ts does, bundled by the build
// into one CommonJS file, dist/cli/zabkv.cjs (bundle-cli.mjs). On Node 20 one CommonJS file
// loads some 25 ms faster than the ES module graph cli.ts starts (the ESM loader alone costs
// ~10 ms), which is what brings a `zabkv get` under 150 ms (issue 16). Everything but a plain
// get, put or del still loads the commander program (program.js) as an ES module, as cli.ts does.
import { runIfPlain } from './run-fast.js';

const FAST_COMMANDS = ['get', 'put', 'del'];
const args = process.argv.slice(2);

void (async () => {
  const ranFast = FAST_COMMANDS.includes(args[0] ?? '') && (await runIfPlain(args));
  if (!ranFast) await import('./program.js');
})();
