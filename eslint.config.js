// Lint rules. The second block is the determinism fence around protocol code (DESIGN §2):
// protocol components get time from the Timer port, randomness from a seeded generator and
// I/O from ports, so none of the escape hatches below may appear there.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/**
 * The top-level folders, lowest first. A folder may import the folders before it in this list
 * and never one after it, so the folder graph has no cycle (README, "Layout"). test/ is last:
 * nothing shipped imports it.
 */
export const layers = [
  'components', // the kernel and the generic Network/Timer/Storage/FailureDetector components
  'kv', // the key-value operation, its outcome and wire form, the Kv port
  'state', // the applied key-value state: lmdb on a node, in memory in simulation
  'bootstrap', // cluster formation and the lookup table
  'replica', // ZAB in one group
  'overlay', // routing any key to its group
  'watch', // applied-change history and watch polls served to any node
  'frontend', // the HTTP server component
  'node', // assembles one node's component tree
  'sim', // the simulated cluster harness (tests, demo, sweep, bench:zab)
  'client', // the client library and the local-cluster launcher
  'loadgen', // the load generator and its plots
  'experiment', // scenario files run on real processes or in the simulator, and their reports
  'bench', // benchmark scripts that write BENCHMARKS.md
  'cli', // the zabkv command
  'test',
];

/** For each layer, the folders above it: import-x's no-restricted-paths zones. */
const layerZones = layers.slice(0, -1).map((folder, index) => ({
  target: `./${folder}`,
  from: layers.slice(index + 1).map((above) => `./${above}`),
  message: `${folder}/ sits below these folders (eslint.config.js, layers): move the shared code down instead.`,
}));

const protocolFolders = [
  'components/fd/**',
  'kv/**',
  'bootstrap/**',
  'overlay/**',
  'replica/**',
  'watch/**',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver()] },
    rules: { 'import-x/no-restricted-paths': ['error', { zones: layerZones }] },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      // Message modules augment NetworkMessages with `interface NetworkMessages extends PayloadsOf<...> {}`.
      '@typescript-eslint/no-empty-object-type': [
        'error',
        { allowInterfaces: 'with-single-extends' },
      ],
    },
  },
  {
    // The dashboard's page script runs in the browser, with uPlot loaded before it.
    files: ['frontend/ui/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        ['window', 'document', 'fetch', 'setTimeout', 'console', 'uPlot'].map((name) => [
          name,
          'readonly',
        ]),
      ),
    },
  },
  {
    files: protocolFolders.map((f) => `${f.replace('/**', '')}/**/*.ts`),
    ignores: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-globals': [
        'error',
        ...[
          'setTimeout',
          'setInterval',
          'setImmediate',
          'clearTimeout',
          'clearInterval',
          'queueMicrotask',
          'performance',
          'process',
          'fetch',
        ].map((name) => ({
          name,
          message:
            'Protocol code is deterministic: time comes from the Timer port, I/O from ports.',
        })),
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'Use the seeded generator handed in at init.',
        },
        { object: 'Date', property: 'now', message: 'Time comes from the Timer port.' },
        {
          object: 'crypto',
          property: 'randomUUID',
          message: 'Use the seeded generator handed in at init.',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'NewExpression[callee.name="Date"]',
          message: 'No wall clock in protocol code.',
        },
        {
          selector: 'AwaitExpression',
          message: 'Handlers are synchronous: results of I/O come back as events.',
        },
        {
          selector: ':function[async=true]',
          message: 'Handlers are synchronous: results of I/O come back as events.',
        },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: ['crypto', 'node:crypto'].map((name) => ({
            name,
            importNames: [
              'randomUUID',
              'randomBytes',
              'randomInt',
              'randomFill',
              'getRandomValues',
            ],
            message: 'Use the seeded generator handed in at init (hashing is fine).',
          })),
          patterns: [
            {
              regex:
                '^(node:)?(net|fs|fs/promises|dgram|http|https|child_process|timers|timers/promises|worker_threads)$',
              message: 'Protocol code does no I/O: use a port.',
            },
            { regex: '^(lmdb|undici|fastify)$', message: 'Protocol code does no I/O: use a port.' },
          ],
        },
      ],
    },
  },
);
