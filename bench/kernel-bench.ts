// Kernel event dispatch: items through a chain of relay components, and one trigger fanned out
// to many channels, under the simulated (synchronous) and live (event loop) schedulers.
import {
  ComponentDefinition,
  ComponentSystem,
  LiveScheduler,
  SimScheduler,
  portType,
  type ComponentContext,
  type ReadyQueue,
} from '../components/kernel/index.js';
import { median, writeBenchmarkSection } from './report.js';

interface Item {
  readonly kind: 'Item';
  readonly n: number;
}
const Flow = portType<Item, Item>('Flow');

class Relay extends ComponentDefinition {
  private readonly upstream = this.provides(Flow);
  private readonly downstream = this.requires(Flow);
  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.subscribe(this.upstream, 'Item', (item) => this.trigger(item, this.downstream));
  }
}

class Sink extends ComponentDefinition {
  private readonly upstream = this.provides(Flow);
  count = 0;
  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.subscribe(this.upstream, 'Item', () => this.count++);
    this.subscribe(this.upstream, 'Item', () => {}); // second handler: cost of a handler list
  }
}

class Source extends ComponentDefinition {
  private readonly downstream = this.requires(Flow);
  constructor(context: ComponentContext, _init: void) {
    super(context);
  }
  emit(n: number): void {
    for (let i = 0; i < n; i++) this.trigger({ kind: 'Item', n: i }, this.downstream);
  }
}

/** Source → relays → sink; every hop is one event dispatch. */
class Chain extends ComponentDefinition {
  readonly source: Source;
  readonly sink: Sink;
  constructor(context: ComponentContext, relays: number) {
    super(context);
    this.source = this.create(Source, undefined);
    let upstream: ComponentDefinition = this.source;
    for (let i = 0; i < relays; i++) {
      const relay = this.create(Relay, undefined);
      this.connect(relay.provided(Flow), upstream.required(Flow));
      upstream = relay;
    }
    this.sink = this.create(Sink, undefined);
    this.connect(this.sink.provided(Flow), upstream.required(Flow));
  }
}

/** One source whose every item goes to `width` sinks. */
class FanOut extends ComponentDefinition {
  readonly source: Source;
  readonly sinks: Sink[];
  constructor(context: ComponentContext, width: number) {
    super(context);
    this.source = this.create(Source, undefined);
    this.sinks = Array.from({ length: width }, () => this.create(Sink, undefined));
    for (const sink of this.sinks) this.connect(sink.provided(Flow), this.source.required(Flow));
  }
}

const RELAYS = 8;
const ITEMS = 200_000;
const WIDTH = 16;
const RUNS = 5;

async function measure(
  live: boolean,
  build: (system: ComponentSystem) => { emit: () => void; done: () => boolean; events: number },
): Promise<number> {
  const scheduler = live ? new LiveScheduler() : new SimScheduler();
  const system = new ComponentSystem({ scheduler });
  const run = build(system);
  (scheduler as ReadyQueue).run(1_000); // start the components
  await new Promise((resolve) => setImmediate(resolve));
  const started = process.hrtime.bigint();
  run.emit();
  if (live) {
    while (!run.done()) await new Promise((resolve) => setImmediate(resolve));
  } else {
    (scheduler as SimScheduler).runUntilIdle();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!run.done()) throw new Error('benchmark did not deliver every event');
  return run.events / seconds;
}

const chain = (system: ComponentSystem) => {
  const root = system.createRoot(Chain, RELAYS);
  root.start();
  return {
    emit: () => root.source.emit(ITEMS),
    done: () => root.sink.count === ITEMS,
    events: ITEMS * (RELAYS + 1),
  };
};

const fanOut = (system: ComponentSystem) => {
  const root = system.createRoot(FanOut, WIDTH);
  root.start();
  return {
    emit: () => root.source.emit(ITEMS),
    done: () => root.sinks.every((sink) => sink.count === ITEMS),
    events: ITEMS * WIDTH,
  };
};

const rows: string[] = [];
for (const [name, build] of [
  [`chain of ${RELAYS} relays`, chain],
  [`fan-out to ${WIDTH} channels`, fanOut],
] as const) {
  for (const live of [false, true]) {
    await measure(live, build); // warm-up
    const rates: number[] = [];
    for (let i = 0; i < RUNS; i++) rates.push(await measure(live, build));
    const line = `| ${name} | ${live ? 'live' : 'simulated'} | ${(median(rates) / 1e6).toFixed(2)} | ${(Math.min(...rates) / 1e6).toFixed(2)}–${(Math.max(...rates) / 1e6).toFixed(2)} |`;
    console.log(line);
    rows.push(line);
  }
}

writeBenchmarkSection(
  'kernel',
  'Component kernel: event dispatch',
  'npm run bench:kernel',
  [
    `${ITEMS.toLocaleString('en')} items per run; an event is one handler dispatch (one hop).`,
    `Median of ${RUNS} runs after a warm-up. Target: at least 5 million events/s.`,
    '',
    '| workload | scheduler | million events/s (median) | range |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n'),
);
