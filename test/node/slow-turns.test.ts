import pino from 'pino';
import { Registry } from 'prom-client';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { parseSamples } from '../../bench/scale/node-sampler.js';
import type { ComponentDefinition } from '../../components/kernel/index.js';
import { overlapMs } from '../../node/gc-pauses.js';
import { slowTurnWatch } from '../../node/slow-turns.js';

async function gauge(registry: Registry, name: string): Promise<number> {
  return (await registry.getSingleMetric(name)!.get()).values[0]!.value;
}

/** The observations of histogram `name` at or below `le` seconds. */
async function bucket(registry: Registry, name: string, le: number): Promise<number> {
  return parseSamples(await registry.metrics()).get(`${name}_bucket{le="${le}"}`)!;
}

const component = { describe: () => 'Replica(1)' } as unknown as ComponentDefinition;

describe('slow turns, with and without the GC pauses inside them', () => {
  it('counts the part of each pause within the window', () => {
    const pauses = [
      { start: 0, end: 10 },
      { start: 20, end: 30 },
      { start: 35, end: 50 },
      { start: 60, end: 70 },
    ];
    expect(overlapMs(pauses, 5, 40)).toBe(5 + 10 + 5);
    expect(overlapMs(pauses, 50, 60)).toBe(0);
    expect(overlapMs([], 0, 100)).toBe(0);
  });

  it('reports the longest turn as it was, and less the GC pauses inside it once they are known', async () => {
    const registry = new Registry();
    const asked: number[] = [];
    const watch = slowTurnWatch(registry, pino({ level: 'silent' }), {
      gc: {
        overlapMs: (start, end) => {
          asked.push(end - start);
          return asked.length === 1 ? 30 : 0;
        },
      },
    });
    watch.slow(component, 40, ['zab.Ack']);
    watch.slow(component, 25, ['zab.Ack']);
    expect(await gauge(registry, 'zabkv_slow_handler_turn_max_seconds')).toBe(0.04);
    const name = 'zabkv_slow_handler_turn_without_gc_max_seconds';
    for (let waited = 0; asked.length < 2 && waited < 5_000; waited += 10) await sleep(10);
    expect(asked.map(Math.round)).toEqual([40, 25]);
    // 40 ms of which 30 were GC, then 25 ms without any: the handler's longest is 25.
    expect(await gauge(registry, name)).toBe(0.025);
    // Histograms a benchmark can read per phase: both turns by wall time (none at 20 ms or
    // below), and less their GC one of 10 ms and one of 25 ms.
    const turns = 'zabkv_slow_handler_turn_seconds';
    expect(await bucket(registry, turns, 0.02)).toBe(0);
    expect(await bucket(registry, turns, 0.05)).toBe(2);
    const lean = 'zabkv_slow_handler_turn_without_gc_seconds';
    expect(await bucket(registry, lean, 0.02)).toBe(1);
    expect(await bucket(registry, lean, 0.05)).toBe(2);
  });

  it('with a thread clock, hands it to the scheduler and counts each slow turn by its time on the CPU and waiting for one', async () => {
    const registry = new Registry();
    const clock = () => {};
    const watch = slowTurnWatch(registry, pino({ level: 'silent' }), { threadClock: clock });
    expect(watch.threadClock).toBe(clock);
    watch.slow(component, 45, ['zab.Proposal'], { onCpuMs: 12, waitingMs: 30 });
    watch.slow(component, 60, ['zab.Proposal'], { onCpuMs: 55, waitingMs: 1 });
    const onCpu = 'zabkv_slow_handler_turn_on_cpu_seconds';
    expect(await bucket(registry, onCpu, 0.02)).toBe(1);
    expect(await bucket(registry, onCpu, 0.05)).toBe(1);
    expect(await bucket(registry, onCpu, 0.1)).toBe(2);
    const waiting = 'zabkv_slow_handler_turn_waiting_seconds';
    expect(await bucket(registry, waiting, 0.02)).toBe(1);
    expect(await bucket(registry, waiting, 0.05)).toBe(2);
    // Without a clock there are no such histograms.
    const plain = new Registry();
    expect(slowTurnWatch(plain, pino({ level: 'silent' })).threadClock).toBeUndefined();
    expect(plain.getSingleMetric(onCpu)).toBeUndefined();
    expect(plain.getSingleMetric(waiting)).toBeUndefined();
  });

  it('warns of a turn over 20 ms on the CPU with the GC inside it, and of one waiting for a core only at debug', async () => {
    const lines: { level: number; cpuMs?: number; gcMs?: number; component?: string }[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const watch = slowTurnWatch(new Registry(), log, {
      threadClock: () => {},
      gc: { overlapMs: () => 8 },
    });
    const other = { describe: () => 'HttpFrontend(1)' } as unknown as ComponentDefinition;
    watch.slow(component, 45, ['zab.Proposal'], { onCpuMs: 12, waitingMs: 30 });
    watch.slow(other, 30, ['Routed'], { onCpuMs: 26, waitingMs: 1 });
    for (let waited = 0; lines.length < 2 && waited < 5_000; waited += 10) await sleep(10);
    const levelOf = (name: string) => lines.find((line) => line.component === name)?.level;
    expect(levelOf('Replica(1)')).toBe(pino.levels.values['debug']);
    expect(levelOf('HttpFrontend(1)')).toBe(pino.levels.values['warn']);
    expect(lines.find((line) => line.component === 'HttpFrontend(1)')).toMatchObject({
      cpuMs: 26,
      gcMs: 8,
    });
  });
});
