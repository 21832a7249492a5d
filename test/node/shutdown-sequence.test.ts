import { describe, expect, it } from 'vitest';
import {
  ComponentDefinition,
  ComponentSystem,
  LiveScheduler,
  type ComponentContext,
} from '../../components/kernel/index.js';
import { Network } from '../../components/network/network-port.js';
import { nodeId } from '../../components/network/node-id.js';
import { ReplicaStatusPort, type ReplicaStatus } from '../../replica/replica-status-port.js';
import { ShutdownSequence, within } from '../../node/shutdown-sequence.js';
import '../network/fixtures/test-messages.js';
import { leaderStatus } from './status-fixtures.js';

/** Records what it is asked to send; answers Flush at once. */
class RecordingNetwork extends ComponentDefinition {
  readonly network = this.provides(Network);
  readonly sent: string[] = [];

  constructor(context: ComponentContext, _init: void) {
    super(context);
    this.subscribeAll(this.network, (request, origin) => {
      this.sent.push(request.kind);
      if (request.kind === 'Flush') this.answer(origin, { kind: 'Flushed' });
    });
  }
}

/** Stands in for the replica: on Stop it sends a parting message, then reports 'starting'. */
class PartingReplica extends ComponentDefinition {
  private readonly network = this.requires(Network);
  private readonly status = this.provides(ReplicaStatusPort);

  constructor(
    context: ComponentContext,
    private readonly init: { readonly reportsOnStop: boolean },
  ) {
    super(context);
  }

  report(status: ReplicaStatus): void {
    this.trigger(status, this.status);
  }

  protected override onStop(): void {
    this.trigger({ kind: 'test.Ping', src: nodeId(1), dst: nodeId(2), seq: 1 }, this.network);
    if (this.init.reportsOnStop) this.report(leaderStatus({ role: 'starting', serving: false }));
  }
}

/** The part of NodeHost under test: its status and Flush wiring around a ShutdownSequence. */
class Host extends ComponentDefinition {
  readonly network = this.create(RecordingNetwork, undefined);
  readonly replica: PartingReplica;
  readonly sequence: ShutdownSequence;
  private readonly net = this.requires(Network);
  private readonly replicaStatus = this.requires(ReplicaStatusPort);

  constructor(context: ComponentContext, init: { readonly reportsOnStop: boolean }) {
    super(context);
    this.replica = this.create(PartingReplica, init);
    this.connect(this.network.provided(Network), this.replica.required(Network));
    this.connect(this.network.provided(Network), this.required(Network));
    this.connect(this.replica.provided(ReplicaStatusPort), this.required(ReplicaStatusPort));
    this.sequence = new ShutdownSequence(() => this.trigger({ kind: 'Flush' }, this.net));
    this.subscribe(this.replicaStatus, 'ReplicaStatus', (s) => this.sequence.replicaReported(s));
    this.subscribe(this.net, 'Flushed', () => this.sequence.flushed());
  }
}

async function startHost(reportsOnStop = true) {
  const system = new ComponentSystem({ scheduler: new LiveScheduler(), checkInvariants: true });
  const host = system.createRoot(Host, { reportsOnStop });
  host.start();
  await new Promise((resolve) => setImmediate(resolve));
  return host;
}

describe('ShutdownSequence', () => {
  it("flushes a leader's parting messages: the Flush is queued behind them", async () => {
    const host = await startHost();
    host.replica.report(leaderStatus());
    await new Promise((resolve) => setImmediate(resolve));
    await host.sequence.stopThenFlush(() => host.replica.stop());
    expect(host.network.sent).toEqual(['test.Ping', 'Flush']);
    host.kill();
  });

  it('flushes at once when the replica had no session', async () => {
    const host = await startHost();
    host.replica.report(leaderStatus({ role: 'looking', serving: false, leader: null }));
    await new Promise((resolve) => setImmediate(resolve));
    await host.sequence.stopThenFlush(() => host.replica.stop());
    expect(host.network.sent).toContain('Flush');
    host.kill();
  });

  it('flushes at once without a replica', async () => {
    const host = await startHost();
    await host.sequence.stopThenFlush(null);
    expect(host.network.sent).toEqual(['Flush']);
    host.kill();
  });

  it('is bounded by `within` when the replica never reports its stop', async () => {
    const host = await startHost(false);
    host.replica.report(leaderStatus());
    await new Promise((resolve) => setImmediate(resolve));
    await within(
      50,
      host.sequence.stopThenFlush(() => host.replica.stop()),
    );
    expect(host.network.sent).toEqual(['test.Ping']);
    host.kill();
  });
});

describe('within', () => {
  it('resolves with the promise, after the bound, or when the promise rejects', async () => {
    expect(await within(10_000, Promise.resolve(1))).toBe(true);
    expect(await within(10, new Promise(() => {}))).toBe(false);
    expect(await within(10_000, Promise.reject(new Error('ignored')))).toBe(true);
  });
});
