import { Agent, request } from 'undici';
import type { NodeId } from '../components/network/node-id.js';
import { counterOf, epochOf, type Zxid } from '../kv/zxid.js';
import type { GroupStatus, MemberStatus } from './cluster-status.js';
import type {
  NodeUiView,
  UiEvent,
  UiGroup,
  UiMember,
  UiSample,
  UiSeries,
  UiSource,
  UiState,
} from './ui-state.js';

/** Seconds of series `/ui/state` returns. */
const SERIES_SEC = 300;
const EVENTS_SHOWN = 100;
/** A member that does not answer `/ui/node` within this is shown down. */
const FETCH_TIMEOUT_MS = 800;
/** How often the node samples its members with no page open (node up/down, their events). */
export const UI_SAMPLE_EVERY_MS = 3_000;

interface Known {
  /** By unix second. */
  readonly samples: Map<number, UiSample>;
  /** Newest event time seen: the next fetch asks for what came after it. */
  since: number;
  up: boolean | null;
  view: NodeUiView | null;
}

export interface UiAggregatorInit {
  readonly self: NodeId;
  readonly source: UiSource;
  /** `http` or `https`, as this node serves. */
  readonly scheme: 'http' | 'https';
  /** The CA of the members' HTTPS certificates, when it is not a public one. */
  readonly ca?: Buffer;
  readonly now?: () => number;
  /** Default UI_SAMPLE_EVERY_MS. */
  readonly sampleEveryMs?: number;
}

/** A member's `/ui/node` answer; `answered` also when it refused the request (it is up). */
interface Fetched {
  readonly view: NodeUiView | null;
  readonly answered: boolean;
}

/**
 * Assembles `/ui/state`: this node's own view and every other member's `/ui/node`, fetched
 * on each call (a member that does not answer is down, not its last answer repeated). Samples
 * and events are fetched incrementally and kept for the window, so a poll stays small.
 *
 * Between calls, once started, it samples the members on its own every few seconds, so that
 * the timeline has nodes going down and coming back (and the members' elections and leaders)
 * whether or not a page is open. That sampling has no caller's token: with tokens on, a member
 * that answers 401 counts as up, and its events wait for the next page's poll.
 */
export class UiAggregator {
  private readonly known = new Map<NodeId, Known>();
  private readonly events: UiEvent[] = [];
  private readonly dispatcher: Agent;
  private readonly now: () => number;
  private sampler: NodeJS.Timeout | null = null;
  private sampling = false;

  constructor(private readonly init: UiAggregatorInit) {
    this.now = init.now ?? Date.now;
    this.dispatcher = new Agent({
      connections: 2,
      ...(init.ca === undefined ? {} : { connect: { ca: init.ca } }),
    });
  }

  /** `authorization`: the caller's header, passed on to the members (same tokens). */
  async state(authorization?: string): Promise<UiState> {
    const at = this.now();
    const { status, views } = await this.refresh(authorization);
    if (!status.formed) {
      return {
        at,
        node: this.init.self,
        formed: false,
        ranges: [],
        groups: [],
        series: emptySeries(),
        events: [...this.events],
      };
    }
    return {
      at,
      node: this.init.self,
      formed: true,
      version: status.version,
      ranges: status.groups.flatMap((g) => g.ranges).sort((a, b) => a.start - b.start),
      groups: status.groups.map((g) => groupOf(g, views)),
      series: this.series(status.groups.map((g) => g.id)),
      events: this.events.slice(-EVENTS_SHOWN),
    };
  }

  /** Samples every UI_SAMPLE_EVERY_MS from now on (one sample at a time) until close(). */
  start(): void {
    if (this.sampler !== null) return;
    this.sampler = setInterval(() => {
      if (this.sampling) return;
      this.sampling = true;
      void this.refresh()
        .catch(() => {}) // a member's failure is its being down; nothing else can throw here
        .finally(() => (this.sampling = false));
    }, this.init.sampleEveryMs ?? UI_SAMPLE_EVERY_MS);
    // Never what keeps a process alive.
    this.sampler.unref();
  }

  /** The timeline as kept, oldest first (what `/ui/state` shows the end of). */
  timeline(): readonly UiEvent[] {
    return [...this.events];
  }

  close(): Promise<void> {
    if (this.sampler !== null) clearInterval(this.sampler);
    this.sampler = null;
    return this.dispatcher.close();
  }

  /** This node's own view and every member's, merged into what is known. */
  private async refresh(authorization?: string): Promise<{
    status: NodeUiView['status'];
    views: Map<NodeId, NodeUiView | null>;
  }> {
    const self = this.fetchOwn();
    const status = self.status;
    const views = new Map<NodeId, NodeUiView | null>();
    if (!status.formed) return { status, views };
    const members = status.groups.flatMap((g) => g.members);
    await Promise.all(
      members.map(async (member) => {
        const fetched: Fetched =
          member.id === this.init.self
            ? { view: self, answered: true }
            : await this.fetchMember(member, authorization);
        views.set(member.id, this.remember(member.id, fetched));
      }),
    );
    return { status, views };
  }

  private fetchOwn(): NodeUiView {
    return this.init.source.nodeView(this.known.get(this.init.self)?.since ?? 0);
  }

  private async fetchMember(member: MemberStatus, authorization?: string): Promise<Fetched> {
    if (member.http === undefined) return { view: null, answered: false };
    const since = this.known.get(member.id)?.since ?? 0;
    const url = `${this.init.scheme}://${member.http.host}:${member.http.port}/ui/node?since=${since}`;
    try {
      const response = await request(url, {
        dispatcher: this.dispatcher,
        headersTimeout: FETCH_TIMEOUT_MS,
        bodyTimeout: FETCH_TIMEOUT_MS,
        ...(authorization === undefined ? {} : { headers: { authorization } }),
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        return { view: null, answered: response.statusCode === 401 || response.statusCode === 403 };
      }
      return { view: (await response.body.json()) as NodeUiView, answered: true };
    } catch {
      return { view: null, answered: false };
    }
  }

  /** Merges a member's answer into what is known, and notes it going down or coming up. */
  private remember(node: NodeId, { view, answered }: Fetched): NodeUiView | null {
    let known = this.known.get(node);
    if (known === undefined) {
      known = { samples: new Map(), since: 0, up: null, view: null };
      this.known.set(node, known);
    }
    const up = answered;
    if (known.up !== null && known.up !== up) {
      this.addEvents([
        {
          at: this.now(),
          node,
          kind: up ? 'node-up' : 'node-down',
          text: `node ${node} ${up ? 'answers again' : 'does not answer'}`,
        },
      ]);
    }
    known.up = up;
    known.view = view;
    if (view === null) return null;
    for (const sample of view.samples) known.samples.set(sample.t, sample);
    this.addEvents(view.events);
    for (const event of view.events) known.since = Math.max(known.since, event.at);
    // Samples are asked for from the last complete second on; events strictly after.
    const lastSample = view.samples.at(-1)?.t;
    if (lastSample !== undefined) known.since = Math.max(known.since, lastSample * 1000);
    const oldest = Math.floor(this.now() / 1000) - SERIES_SEC;
    for (const t of known.samples.keys()) if (t < oldest) known.samples.delete(t);
    return view;
  }

  private addEvents(events: readonly UiEvent[]): void {
    for (const event of events) {
      const duplicate = this.events.some(
        (e) => e.at === event.at && e.node === event.node && e.text === event.text,
      );
      if (!duplicate) this.events.push(event);
    }
    this.events.sort((a, b) => a.at - b.at);
    if (this.events.length > EVENTS_SHOWN * 2)
      this.events.splice(0, this.events.length - EVENTS_SHOWN);
  }

  private series(groups: readonly number[]): UiSeries {
    const last = Math.floor(this.now() / 1000) - 1;
    const t = Array.from({ length: SERIES_SEC }, (_, i) => last - SERIES_SEC + 1 + i);
    const out: Record<
      string,
      { ops: number[]; errors: number[]; p50: (number | null)[]; p99: (number | null)[] }
    > = {};
    for (const group of groups) {
      const key = String(group);
      const series = {
        ops: [] as number[],
        errors: [] as number[],
        p50: [] as (number | null)[],
        p99: [] as (number | null)[],
      };
      for (const second of t) {
        let ops = 0;
        let errors = 0;
        let weighted = 0;
        let p99: number | null = null;
        for (const known of this.known.values()) {
          const g = known.samples.get(second)?.groups[key];
          if (g === undefined || g.ops === 0) continue;
          ops += g.ops;
          errors += g.errors;
          weighted += g.p50 * g.ops;
          p99 = Math.max(p99 ?? 0, g.p99);
        }
        series.ops.push(ops);
        series.errors.push(errors);
        series.p50.push(ops === 0 ? null : weighted / ops);
        series.p99.push(p99);
      }
      out[key] = series;
    }
    return { t, groups: out };
  }
}

function emptySeries(): UiSeries {
  return { t: [], groups: {} };
}

/** A group from its members' own reports: each knows its role and zxids, the leader its log. */
function groupOf(group: GroupStatus, views: ReadonlyMap<NodeId, NodeUiView | null>): UiGroup {
  const own = (id: NodeId): GroupStatus | undefined => {
    const status = views.get(id)?.status;
    return status?.formed === true ? status.groups.find((g) => g.id === group.id) : undefined;
  };
  const leader = group.members.find((m) => own(m.id)?.role === 'leading')?.id ?? null;
  const leaderLast = leader === null ? undefined : own(leader)?.lastZxid;
  const members = group.members.map((member): UiMember => {
    const view = views.get(member.id) ?? null;
    const mine = own(member.id);
    const base = { id: member.id, ...(member.http === undefined ? {} : { http: member.http }) };
    if (view === null || mine === undefined) return { ...base, up: view !== null };
    return {
      ...base,
      up: true,
      ...(mine.role === undefined
        ? {}
        : { role: mine.role === 'following' && !view.serving ? 'syncing' : mine.role }),
      ...(mine.epoch === undefined ? {} : { epoch: mine.epoch }),
      ...(mine.lastZxid === undefined ? {} : { lastZxid: mine.lastZxid }),
      ...(mine.appliedZxid === undefined ? {} : { appliedZxid: mine.appliedZxid }),
      ...(mine.committedZxid === undefined ? {} : { committedZxid: mine.committedZxid }),
      ...(leaderLast === undefined || mine.lastZxid === undefined
        ? {}
        : { lag: behind(leaderLast, mine.lastZxid) }),
    };
  });
  return { id: group.id, leader, members };
}

/** Proposals of the leader's log up to `last` that a member holding up to `held` lacks. */
function behind(last: Zxid, held: Zxid): number {
  if (held >= last) return 0;
  return epochOf(held) === epochOf(last) ? last - held : counterOf(last);
}
