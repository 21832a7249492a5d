// The `zabkv` command as installed (package.json `bin`): what cli.ts does, bundled by the build
// into one CommonJS file, dist/cli/zabkv.cjs (bundle-cli.mjs). On Node 20 one CommonJS file
// loads some 25 ms faster than the ES module graph cli.ts starts (the ESM loader alone costs
// ~10 ms): a `zabkv get` starts that much closer to Node's own start-up (issue 16). Everything
// but a plain get, put or del still loads the commander program (program.js) as an ES module.
import { runCli } from './run-fast.js';

void runCli(process.argv.slice(2));
