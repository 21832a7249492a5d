// Bundles the installed `zabkv` command (cli/installed-entry.ts, once tsc has built it) into one
// CommonJS file, dist/cli/zabkv.cjs: see that file for why. The commander program stays outside
// the bundle (loaded as ES modules from dist/cli/program.js), and so do all packages.
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/installed-entry.js'],
  outfile: 'dist/cli/zabkv.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  external: ['./program.js'],
  // cli/flags.ts finds commander with createRequire(import.meta.url) when it refuses a flag.
  banner: {
    js: "#!/usr/bin/env node\nconst importMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  },
  define: { 'import.meta.url': 'importMetaUrl' },
  logLevel: 'warning',
});
// Run as a command (npx zabkv, npm link): executable, like any bin.
chmodSync('dist/cli/zabkv.cjs', 0o755);
