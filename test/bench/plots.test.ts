import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  barChartSvg,
  latencyDistributionSvg,
  percentileAxis,
  percentileToX,
  throughputTimelineSvg,
  writeLoadResultSvgs,
  writeSvg,
} from '../../loadgen/plots/index.js';

/** Checks that the elements nest properly and the root is one <svg>; returns the tag names. */
function parseSvg(svg: string): string[] {
  expect(svg.startsWith('<svg')).toBe(true);
  const stack: string[] = [];
  const tags: string[] = [];
  for (const [, close, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (close === '/') {
      expect(stack.pop()).toBe(name);
    } else {
      tags.push(name!);
      if (selfClosing !== '/') stack.push(name!);
    }
  }
  expect(stack).toEqual([]);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  return tags;
}

/** The text of every <text> element. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
}

/** How many lines were drawn: vega draws each series of a line mark as its own group. */
function lineCount(svg: string): number {
  return svg.match(/<g class="mark-line role-mark/g)?.length ?? 0;
}

function expectFiniteNumbers(svg: string): void {
  expect(svg).not.toMatch(/NaN|Infinity/);
}

const steady = (n: number, count: number) => Array.from({ length: n }, () => count);

describe('throughputTimelineSvg', () => {
  it('draws one line per series with title, axis titles and legend', async () => {
    const svg = await throughputTimelineSvg(
      [
        { name: 'zabkv', timeline: steady(10, 500) },
        { name: 'etcd', timeline: steady(10, 400) },
        { name: 'ZooKeeper', timeline: steady(10, 300) },
      ],
      { title: 'Writes, 64 clients' },
    );
    parseSvg(svg);
    expectFiniteNumbers(svg);
    const labels = texts(svg);
    expect(labels).toContain('Writes, 64 clients');
    expect(labels).toContain('ops/s');
    expect(labels).toContain('time (s)');
    for (const name of ['zabkv', 'etcd', 'ZooKeeper']) expect(labels).toContain(name);
    expect(lineCount(svg)).toBe(3);
  });

  it('turns counts per bucket into ops/s', async () => {
    const perSecond = texts(
      await throughputTimelineSvg([{ name: 'a', timeline: steady(5, 300) }], { title: 't' }),
    );
    const per100ms = texts(
      await throughputTimelineSvg([{ name: 'a', timeline: steady(5, 300) }], {
        title: 't',
        bucketMs: 100,
      }),
    );
    expect(perSecond).toContain('300');
    expect(perSecond).not.toContain('3,000');
    expect(per100ms).toContain('3,000');
  });

  it('marks events with a rule and a label, and shades a window', async () => {
    const svg = await throughputTimelineSvg(
      [{ name: 'zabkv', timeline: [...steady(10, 30), 0, 0, 0, ...steady(27, 30)] }],
      {
        title: 'Failover',
        bucketMs: 100,
        startMs: -1000,
        xTitle: 'time since kill (s)',
        markers: [
          { atMs: 0, label: 'kill -9', untilMs: 250 },
          { atMs: 1500, label: 'restart' },
        ],
      },
    );
    parseSvg(svg);
    expectFiniteNumbers(svg);
    const labels = texts(svg);
    expect(labels).toEqual(expect.arrayContaining(['kill -9', 'restart', 'time since kill (s)']));
    const rules = /<g class="mark-rule role-mark[^>]*>(.*?)<\/g>/.exec(svg)?.[1] ?? '';
    expect(rules.match(/<line/g)).toHaveLength(2);
    const spans = /<g class="mark-rect role-mark[^>]*>(.*?)<\/g>/.exec(svg)?.[1] ?? '';
    expect(spans.match(/<path/g)).toHaveLength(1);
  });

  it('leaves out markers and shading when none are given', async () => {
    const svg = await throughputTimelineSvg([{ name: 'a', timeline: [1, 2, 3] }], { title: 't' });
    expect(svg).not.toContain('mark-rule role-mark');
    expect(svg).not.toContain('mark-rect role-mark');
  });

  it('copes with no series, an empty series and a one-point series', async () => {
    for (const series of [
      [],
      [{ name: 'empty', timeline: [] }],
      [{ name: 'one', timeline: [42] }],
      [
        { name: 'empty', timeline: [] },
        { name: 'one', timeline: [42] },
      ],
    ]) {
      const svg = await throughputTimelineSvg(series, { title: 'edge' });
      parseSvg(svg);
      expectFiniteNumbers(svg);
      expect(lineCount(svg)).toBe(series.filter((s) => s.timeline.length > 0).length);
      for (const { name } of series) expect(texts(svg)).toContain(name);
    }
  });

  it('escapes series names', async () => {
    const svg = await throughputTimelineSvg([{ name: 'a<b & "c"', timeline: [1, 2] }], {
      title: 'x & y',
    });
    parseSvg(svg);
    expect(svg).toContain('a&lt;b &amp;');
    expect(svg).not.toContain('a<b');
  });

  it('rejects a bucket that is not positive', async () => {
    await expect(throughputTimelineSvg([], { title: 't', bucketMs: 0 })).rejects.toThrow(
      RangeError,
    );
  });
});

describe('percentile axis', () => {
  it('places p at 1/(1-p) with exact decades', () => {
    expect([0, 50, 90, 99, 99.9, 99.99].map(percentileToX)).toEqual([1, 2, 10, 100, 1000, 10_000]);
  });

  it('puts 100 % one decade past the deepest finite point and drops what cannot be placed', () => {
    const axis = percentileAxis([0, 50, 99.99, 100]);
    expect(axis.x(100)).toBe(100_000);
    expect(axis.domain).toEqual([1, 100_000]);
    expect(axis.ticks.map((t) => t.label)).toEqual(['50%', '90%', '99%', '99.9%', '99.99%', 'max']);
    expect(axis.x(101)).toBeNull();
    expect(axis.x(-1)).toBeNull();
    expect(axis.x(Number.NaN)).toBeNull();
    const deeper = percentileAxis([99.999, 100]);
    expect(deeper.x(100)).toBe(1_000_000);
    expect(deeper.ticks.at(-2)).toEqual({ value: 100_000, label: '99.999%' });
  });

  it('always reaches 99.99 %, and has no max tick without p = 100', () => {
    const axis = percentileAxis([50, 90]);
    expect(axis.domain).toEqual([1, 10_000]);
    expect(axis.ticks.map((t) => t.label)).toEqual(['50%', '90%', '99%', '99.9%', '99.99%']);
  });
});

describe('latencyDistributionSvg', () => {
  // As the load generator reports it.
  const curve = (scale: number): [number, number][] =>
    [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100].map((p) => [
      p,
      scale * (1 + 1 / (100.5 - p)),
    ]);

  it('draws one line per series on a percentile axis, p = 100 included, without Infinity', async () => {
    const svg = await latencyDistributionSvg(
      [
        { name: 'zabkv', distribution: curve(2) },
        { name: 'etcd', distribution: curve(3) },
      ],
      { title: 'Write latency' },
    );
    parseSvg(svg);
    expectFiniteNumbers(svg);
    const labels = texts(svg);
    expect(labels).toEqual(
      expect.arrayContaining([
        'Write latency',
        'percentile',
        'latency (ms)',
        'zabkv',
        'etcd',
        '50%',
        '90%',
        '99%',
        '99.9%',
        '99.99%',
        'max',
      ]),
    );
    expect(lineCount(svg)).toBe(2);
    // Every point is drawn, the maximum too.
    const symbols = /<g class="mark-symbol role-mark[^>]*>(.*?)<\/g>/.exec(svg)?.[1] ?? '';
    expect(symbols.match(/<path/g)).toHaveLength(2 * 13);
  });

  it('copes with an empty series, a lone p = 100 point and values it cannot place', async () => {
    for (const distribution of [
      [],
      [[100, 5]],
      [[50, 1]],
      [
        [50, Number.NaN],
        [120, 3],
        [99, Number.POSITIVE_INFINITY],
        [90, 2],
      ],
    ] as [number, number][][]) {
      const svg = await latencyDistributionSvg([{ name: 'a', distribution }], { title: 'edge' });
      parseSvg(svg);
      expectFiniteNumbers(svg);
      expect(texts(svg)).toContain('a');
    }
    parseSvg(await latencyDistributionSvg([], { title: 'nothing' }));
  });
});

describe('barChartSvg', () => {
  it('groups bars by client count, one colour per system', async () => {
    const systems = ['zabkv', 'etcd', 'zookeeper'];
    const svg = await barChartSvg(
      [256, 1, 64, 16].flatMap((clients) =>
        systems.map((system, i) => ({ clients, system, opsPerSec: (i + 1) * clients })),
      ),
      { title: 'Writes vs concurrency' },
    );
    parseSvg(svg);
    expectFiniteNumbers(svg);
    const labels = texts(svg);
    expect(labels).toEqual(
      expect.arrayContaining(['Writes vs concurrency', 'clients', 'ops/s', ...systems]),
    );
    // The groups in ascending order of clients.
    const groups = labels.filter((l) => ['1', '16', '64', '256'].includes(l));
    expect(groups.slice(0, 4)).toEqual(['1', '16', '64', '256']);
    const bars = /<g class="mark-rect role-mark[^>]*>(.*?)<\/g>/.exec(svg)?.[1] ?? '';
    expect(bars.match(/<path/g)).toHaveLength(12);
  });

  it('copes with no bars', async () => {
    const svg = await barChartSvg([], { title: 'empty' });
    parseSvg(svg);
    expectFiniteNumbers(svg);
  });
});

describe('writing files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zabkv-plots-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writeSvg creates the directory', async () => {
    const path = join(dir, 'a', 'b', 'plot.svg');
    await writeSvg(path, '<svg/>');
    expect(readFileSync(path, 'utf8')).toBe('<svg/>');
  });

  it('writeLoadResultSvgs writes throughput.svg and latency.svg for one run', async () => {
    const paths = await writeLoadResultSvgs(
      join(dir, 'run'),
      {
        target: 'zabkv',
        timeline: [900, 1000, 1100],
        distribution: [
          [50, 1],
          [99, 4],
          [100, 9],
        ],
      },
      '64 clients',
    );
    expect(paths).toEqual([join(dir, 'run', 'throughput.svg'), join(dir, 'run', 'latency.svg')]);
    const [throughput, latency] = paths.map((p) => readFileSync(p, 'utf8'));
    expect(texts(throughput!)).toContain('Throughput: 64 clients');
    expect(texts(latency!)).toContain('Latency by percentile: 64 clients');
    expectFiniteNumbers(latency!);
  });
});
