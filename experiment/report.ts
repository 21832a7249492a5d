import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { throughputTimelineSvg } from '../loadgen/plots/index.js';
import type { RunResult } from './run-result.js';
import type { Scenario } from './scenario.js';

const escape = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

const fixed = (n: number | undefined, digits = 1) => (n === undefined ? '–' : n.toFixed(digits));

/** A self-contained HTML page (inline SVG, no scripts) and the raw JSON, in `dir`. */
export async function writeReport(
  dir: string,
  scenario: Scenario,
  results: readonly RunResult[],
): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify({ scenario, results }, null, 2)}\n`);
  const shown = results.find((r) => r.linearizability.verdict !== 'ok') ?? results[0]!;
  const svg = await throughputTimelineSvg(
    shown.groups.map((g) => ({ name: `group ${g}`, timeline: shown.perSecond[g]!.ok })),
    {
      title: `successful operations per second${shown.seed === undefined ? '' : ` (seed ${shown.seed})`}`,
      markers: shown.actions.map((a) => ({ atMs: a.atMs, label: a.text })),
      width: 760,
      height: 260,
    },
  );
  const mode = shown.mode === 'real' ? 'real processes' : `the simulator, ${results.length} seeds`;
  const verdicts = results.map((r) => r.linearizability.verdict);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(scenario.name)}: zabkv experiment</title>
<style>
body { font: 14px system-ui, sans-serif; max-width: 980px; margin: 1.5em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2em 0.8em 0.2em 0; text-align: left; font-variant-numeric: tabular-nums; }
pre { background: #f5f5f5; padding: 0.6em; overflow-x: auto; }
.ok { color: #2e7d32; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
</style></head><body>
<h1>${escape(scenario.name)}</h1>
${scenario.description === undefined ? '' : `<p>${escape(scenario.description)}</p>`}
<p>Run on ${mode}${machineText(shown)}. Linearizability of the recorded history: ${verdictText(verdicts)}</p>
${svg}
<h2>Actions</h2>
<table><tr><th>at (s)</th><th>action</th><th></th></tr>
${shown.actions.map((a) => `<tr><td>${fixed(a.atMs / 1000)}</td><td>${escape(a.text)}</td><td>${a.failed === undefined ? '' : `failed: ${escape(a.failed)}`}</td></tr>`).join('\n')}
</table>
<h2>Latency of successful operations (ms)</h2>
<table><tr><th>group</th><th>operations</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>mean ops/s</th></tr>
${[...shown.groups.map(String), 'all']
  .map((g) => {
    const l = shown.latency[g];
    return `<tr><td>${g}</td><td>${l?.count ?? 0}</td><td>${fixed(l?.p50, 2)}</td><td>${fixed(l?.p90, 2)}</td><td>${fixed(l?.p99, 2)}</td><td>${fixed(l?.max, 0)}</td><td>${fixed((l?.count ?? 0) / shown.durationSec, 0)}</td></tr>`;
  })
  .join('\n')}
</table>
<h2>Availability</h2>
<p>Windows of a second or more in which no operation on the group succeeded, and the longest
time between two successful operations on it (a failover shows there even when it is short).</p>
<table><tr><th>group</th><th>unavailable windows (s)</th><th>total (s)</th><th>longest gap (ms)</th></tr>
${shown.groups
  .map((g) => {
    const windows = shown.unavailable[g] ?? [];
    const total = windows.reduce((sum, [a, b]) => sum + b - a, 0);
    return `<tr><td>${g}</td><td>${windows.length === 0 ? 'none' : windows.map(([a, b]) => `${a}–${b}`).join(', ')}</td><td>${fixed(total)}</td><td>${shown.longestGapMs[g] ?? '–'}</td></tr>`;
  })
  .join('\n')}
</table>
<p>Operations: ${shown.counts.ok} answered, ${shown.counts.unavailable} unavailable (did not happen), ${shown.counts.unknown} with an unknown outcome.</p>
${results.length > 1 ? seedTable(results) : ''}
<h2>Scenario</h2>
<pre>${escape(stringify(scenario))}</pre>
<p>Raw data: <a href="report.json">report.json</a>.</p>
</body></html>
`;
  const file = join(dir, 'index.html');
  writeFileSync(file, html);
  return file;
}

function machineText(run: RunResult): string {
  if (run.machine === undefined) return '';
  const [start, end] = run.machine.load;
  return ` (${run.machine.cpus} cores; load average ${start.toFixed(1)} at the start, ${end.toFixed(1)} at the end: other work on the machine lowers throughput)`;
}

function verdictText(verdicts: readonly string[]): string {
  const ok = verdicts.filter((v) => v === 'ok').length;
  if (ok === verdicts.length) {
    return `<span class="ok">linearizable</span>${verdicts.length > 1 ? ` (all ${verdicts.length} seeds)` : ''}`;
  }
  return `<span class="bad">${verdicts.length - ok} of ${verdicts.length} not shown linearizable</span> (${[...new Set(verdicts)].join(', ')})`;
}

function seedTable(results: readonly RunResult[]): string {
  const rows = results.map((r) => {
    const down = r.groups.map((g) => r.longestGapMs[g] ?? 0);
    return `<tr><td>${r.seed}</td><td>${r.linearizability.verdict}</td><td>${r.counts.ok}</td><td>${r.counts.unavailable}</td><td>${r.counts.unknown}</td><td>${down.join(' / ')}</td></tr>`;
  });
  return `<h2>Every seed</h2>
<table><tr><th>seed</th><th>verdict</th><th>answered</th><th>unavailable</th><th>unknown</th><th>longest gap per group (ms)</th></tr>
${rows.join('\n')}
</table>`;
}
