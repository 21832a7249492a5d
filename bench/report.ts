import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
// write-svg.js and not the plots' index.js: benchmarks without plots should not load vega.
import { writeSvg } from '../loadgen/plots/write-svg.js';

// Both relative to the repository root (the npm scripts run there), so the links in
// BENCHMARKS.md resolve on GitHub and in an editor alike.
const FILE = 'BENCHMARKS.md';
const PLOT_DIR = 'docs/bench';
const HEADER = `# Benchmarks

Each section is rewritten by the command named in it. Numbers are from the machine and date
given in the section; compare ratios measured in one run, not absolute numbers across runs.
`;

/** One line that says where a number was measured. */
export function machineDescription(): string {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  const gib = (totalmem() / 2 ** 30).toFixed(0);
  return `${cpus().length} × ${cpu}, ${gib} GiB, ${platform()} ${release()}, Node ${process.version}`;
}

/** Median of a non-empty list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The item at the median position when sorted by `by` (the lower middle for an even count):
 * a run that really happened, so its timeline and latency curve belong together.
 */
export function middle<T>(items: readonly T[], by: (item: T) => number): T {
  if (items.length === 0) throw new RangeError('middle() of an empty list');
  const sorted = [...items].sort((a, b) => by(a) - by(b));
  return sorted[(sorted.length - 1) >> 1]!;
}

/** Writes `svg` to docs/bench/`file` and returns the Markdown image link to it. */
export async function writePlot(file: string, alt: string, svg: string): Promise<string> {
  const path = `${PLOT_DIR}/${file}`;
  await writeSvg(path, svg);
  return `![${alt}](${path})`;
}

/**
 * Replaces (or appends) the section `name` of BENCHMARKS.md with a heading, the command that
 * produced it, the machine and the date, then `body`.
 */
export function writeBenchmarkSection(
  name: string,
  title: string,
  command: string,
  body: string,
): void {
  const start = `<!-- section:${name} -->`;
  const end = `<!-- /section:${name} -->`;
  const section = [
    start,
    `## ${title}`,
    '',
    `- command: \`${command}\``,
    `- machine: ${machineDescription()}`,
    `- date: ${new Date().toISOString().slice(0, 10)}`,
    '',
    body.trim(),
    end,
  ].join('\n');
  const current = existsSync(FILE) ? readFileSync(FILE, 'utf8') : HEADER;
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next =
    from >= 0 && to > from
      ? current.slice(0, from) + section + current.slice(to + end.length)
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(FILE, next);
}
