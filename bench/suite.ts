// The side-by-side benchmarks (issue 5, item 5): zabkv, etcd and ZooKeeper on this machine in
// one run, the systems interleaved, each a 3-node cluster with fsync on; zabkv with one group
// against two; the load generator's own ceiling. Writes BENCHMARKS.md and docs/bench/*.svg.
//   npm run bench:suite -- [--duration 5] [--repeats 3] [--only systems,groups,stale,ceiling]
// Each part writes its own section as soon as it is done, so a failure later in the run
// keeps what was measured before it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { positive, positiveInteger } from './bench-flags.js';
import { runCeiling } from './suite/ceiling.js';
import { runGroups } from './suite/groups.js';
import type { Settings } from './suite/measure.js';
import {
  writeCeilingSection,
  writeGroupsSection,
  writeStaleSection,
  writeSystemsSection,
} from './suite/sections.js';
import { runSideBySide } from './suite/side-by-side.js';
import { writeTargetsSection } from './suite/targets.js';

const PARTS = ['systems', 'groups', 'stale', 'ceiling'] as const;
type Part = (typeof PARTS)[number];

function parts(value: string): Part[] {
  const chosen = value.split(',').map((p) => p.trim());
  for (const part of chosen) {
    if (!(PARTS as readonly string[]).includes(part))
      throw new InvalidArgumentError(`"${part}" is not one of ${PARTS.join(', ')}`);
  }
  return chosen as Part[];
}

const options = new Command()
  .option('--duration <s>', 'seconds per measurement', positive, 5)
  .option('--repeats <n>', 'measurements per cell (the median is reported)', positiveInteger, 3)
  .option('--only <parts>', `run only these parts (comma-separated: ${PARTS.join(',')})`, parts)
  .parse()
  .opts<{ duration: number; repeats: number; only?: Part[] }>();
const only = new Set<Part>(options.only ?? PARTS);
const settings: Settings = {
  durationSec: options.duration,
  repeats: options.repeats,
  command:
    `npm run bench:suite -- --duration ${options.duration} --repeats ${options.repeats}` +
    (options.only === undefined ? '' : ` --only ${[...only].join(',')}`),
};

const root = mkdtempSync(join(tmpdir(), 'zabkv-suite-'));
try {
  // etcd and ZooKeeper are stopped before the groups part: idle, they would still take some
  // of the two cores from the zabkv clusters measured there.
  if (only.has('systems') || only.has('stale')) {
    const cells = await runSideBySide(root, settings, {
      systems: only.has('systems'),
      stale: only.has('stale'),
    });
    if (only.has('systems')) await writeSystemsSection(cells.systems, settings);
    if (only.has('stale')) await writeStaleSection(cells.stale, settings);
    if (only.has('systems') && only.has('stale'))
      writeTargetsSection(cells.systems, cells.stale, settings);
  }
  if (only.has('groups')) writeGroupsSection(await runGroups(root, settings), settings);
  // Last, with every cluster stopped, so the ceiling is the client's alone.
  if (only.has('ceiling')) writeCeilingSection(await runCeiling(settings), settings);
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log('BENCHMARKS.md and docs/bench/ updated');
