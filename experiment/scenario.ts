import { readFileSync } from 'node:fs';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parse as parseYaml } from 'yaml';

/**
 * A scenario file (README, "Experiments"): the cluster's shape, a workload and a timeline of
 * actions. The same file runs on real processes (`zabkv experiment run`) and in the simulator
 * (`zabkv experiment sim`). YAML or JSON; every mistake is reported with the field it is in.
 */

/** "10s", "500ms", "2m", or a number of seconds. */
const Duration = Type.Union([
  Type.Number({ minimum: 0 }),
  Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?(ms|s|m)$' }),
]);
const NodeNumber = Type.Integer({ minimum: 1, maximum: 999 });
const GroupNumber = Type.Integer({ minimum: 0, maximum: 999 });

const Cluster = Type.Object(
  {
    nodes: Type.Integer({ minimum: 1, maximum: 30 }),
    replication: Type.Integer({ minimum: 1, maximum: 9 }),
    storage: Type.Optional(Type.Union([Type.Literal('wal'), Type.Literal('lmdb')])),
  },
  { additionalProperties: false },
);

const Workload = Type.Object(
  {
    clients: Type.Integer({ minimum: 1, maximum: 512 }),
    readRatio: Type.Number({ minimum: 0, maximum: 1 }),
    keys: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
    distribution: Type.Optional(Type.Union([Type.Literal('uniform'), Type.Literal('zipf')])),
    valueSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_048_576 })),
    /** Operations per second (open loop); absent: closed loop. */
    rate: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    duration: Duration,
  },
  { additionalProperties: false },
);

/** Who an action is aimed at: a node by number, the leader of a group, or one of its followers. */
const target = {
  node: Type.Optional(NodeNumber),
  leaderOf: Type.Optional(GroupNumber),
  followerOf: Type.Optional(GroupNumber),
};
const at = { at: Duration };
const action = <N extends string, P extends Record<string, TSchema>>(name: N, fields: P) =>
  Type.Object({ ...at, action: Type.Literal(name), ...fields }, { additionalProperties: false });

/** Each action's schema, by name: checked after its name, so errors speak of that action. */
export const ACTIONS = {
  kill: action('kill', target),
  restart: action('restart', { node: Type.Optional(NodeNumber) }),
  pause: action('pause', target),
  resume: action('resume', { node: Type.Optional(NodeNumber) }),
  'kill-all': action('kill-all', {}),
  'restart-all': action('restart-all', {}),
  isolate: action('isolate', { ...target, for: Type.Optional(Duration) }),
  cut: action('cut', { from: NodeNumber, to: NodeNumber, for: Type.Optional(Duration) }),
  heal: action('heal', {}),
  wipe: action('wipe', target),
  load: action('load', {
    clients: Type.Integer({ minimum: 1, maximum: 512 }),
    for: Duration,
  }),
} as const;

export type ActionName = keyof typeof ACTIONS;
export type Action = { [K in ActionName]: Static<(typeof ACTIONS)[K]> }[ActionName];

const ScenarioShape = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    description: Type.Optional(Type.String()),
    cluster: Cluster,
    workload: Workload,
    timeline: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  },
  { additionalProperties: false },
);

export interface Scenario {
  readonly name: string;
  readonly description?: string;
  readonly cluster: Static<typeof Cluster>;
  readonly workload: Static<typeof Workload>;
  readonly timeline: readonly Action[];
}

export class ScenarioError extends Error {}

const checkShape = TypeCompiler.Compile(ScenarioShape);
type Check = ReturnType<typeof TypeCompiler.Compile<TSchema>>;
const checkAction = new Map<string, Check>(
  Object.entries(ACTIONS).map(([name, schema]): [string, Check] => [
    name,
    TypeCompiler.Compile<TSchema>(schema),
  ]),
);

/** `/timeline/2/at` → `timeline[2].at`. */
function fieldName(path: string): string {
  const name = path
    .split('/')
    .filter((part) => part !== '')
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
  return name === '' ? '(the file)' : name;
}

/** One problem per field: the first typebox reports (a missing field also fails its type). */
function problems(check: Check, value: unknown, prefix = '') {
  const byField = new Map<string, string>();
  for (const e of check.Errors(value)) {
    const field = fieldName(prefix + e.path);
    if (byField.has(field)) continue;
    const extra =
      e.message.startsWith('Unexpected property') || e.schema === undefined
        ? ''
        : describeSchema(e.schema);
    byField.set(field, `${field}: ${e.message}${extra}`);
  }
  return [...byField.values()];
}

function describeSchema(schema: TSchema): string {
  const s = schema as { pattern?: string; anyOf?: { const?: unknown }[] };
  if (s.anyOf !== undefined && s.anyOf.every((x) => 'const' in x)) {
    return ` (one of ${s.anyOf.map((x) => JSON.stringify(x.const)).join(', ')})`;
  }
  if (s.pattern !== undefined || s.anyOf !== undefined)
    return ' (a duration such as 10s, 500ms, 2m)';
  return '';
}

/** Seconds in a duration field. */
export function seconds(duration: number | string): number {
  if (typeof duration === 'number') return duration;
  const match = /^([0-9.]+)(ms|s|m)$/.exec(duration)!;
  const value = Number(match[1]);
  return match[2] === 'ms' ? value / 1000 : match[2] === 'm' ? value * 60 : value;
}

/** Parses and validates a scenario; throws ScenarioError naming every field that is wrong. */
export function parseScenario(text: string, file = 'scenario'): Scenario {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ScenarioError(`${file}: not valid YAML or JSON: ${(error as Error).message}`);
  }
  const errors = checkShape.Check(raw) ? [] : problems(checkShape, raw);
  const timeline: Action[] = [];
  const rawTimeline = (raw as { timeline?: unknown[] } | null)?.timeline;
  if (errors.length === 0 && Array.isArray(rawTimeline)) {
    rawTimeline.forEach((entry, i) => {
      const name = (entry as { action?: unknown }).action;
      if (typeof name !== 'string' || !Object.hasOwn(ACTIONS, name)) {
        errors.push(
          `timeline[${i}].action: ${name === undefined ? 'missing' : `unknown action ${JSON.stringify(name)}`} (one of ${Object.keys(ACTIONS).join(', ')})`,
        );
        return;
      }
      const check = checkAction.get(name)!;
      if (!check.Check(entry)) errors.push(...problems(check, entry, `/timeline/${i}`));
      else timeline.push(entry as Action);
    });
  }
  // The checks across fields run once the shape is right, on every action that is itself valid.
  if (checkShape.Check(raw)) {
    const scenario = raw as Static<typeof ScenarioShape>;
    const groups = Math.floor(scenario.cluster.nodes / scenario.cluster.replication);
    if (groups < 1) errors.push('cluster.replication: larger than cluster.nodes');
    timeline.forEach((a, i) => {
      for (const field of ['node', 'from', 'to'] as const) {
        const node = (a as Record<string, unknown>)[field];
        if (typeof node === 'number' && node > scenario.cluster.nodes) {
          errors.push(
            `timeline[${i}].${field}: node ${node} is not in a ${scenario.cluster.nodes}-node cluster`,
          );
        }
      }
      for (const field of ['leaderOf', 'followerOf'] as const) {
        const group = (a as Record<string, unknown>)[field];
        if (typeof group === 'number' && group >= groups) {
          errors.push(
            `timeline[${i}].${field}: group ${group} does not exist (groups 0..${groups - 1})`,
          );
        }
      }
      const aimed = ['node', 'leaderOf', 'followerOf'].filter((f) => f in a).length;
      if (['kill', 'pause', 'isolate', 'wipe'].includes(a.action) && aimed !== 1) {
        errors.push(`timeline[${i}]: ${a.action} needs exactly one of node, leaderOf, followerOf`);
      }
      if (seconds(a.at) > seconds(scenario.workload.duration)) {
        errors.push(
          `timeline[${i}].at: ${a.at} is after the workload ends (${scenario.workload.duration})`,
        );
      }
    });
    if (errors.length === 0) {
      return { ...scenario, timeline: [...timeline].sort((a, b) => seconds(a.at) - seconds(b.at)) };
    }
  }
  throw new ScenarioError(`${file} is not a valid scenario:\n  ${errors.join('\n  ')}`);
}

export function readScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ScenarioError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return parseScenario(text, file);
}

/** How an action reads in a report: "kill leader of group 0". */
export function describeAction(a: Action): string {
  const who = (x: { node?: number; leaderOf?: number; followerOf?: number }) =>
    x.node !== undefined
      ? `node ${x.node}`
      : x.leaderOf !== undefined
        ? `leader of group ${x.leaderOf}`
        : x.followerOf !== undefined
          ? `a follower of group ${x.followerOf}`
          : 'every stopped node';
  switch (a.action) {
    case 'kill':
    case 'pause':
    case 'wipe':
      return `${a.action} ${who(a)}`;
    case 'restart':
    case 'resume':
      return `${a.action} ${who(a)}`;
    case 'isolate':
      return `isolate ${who(a)}${a.for === undefined ? '' : ` for ${a.for}`}`;
    case 'cut':
      return `cut ${a.from} -> ${a.to}${a.for === undefined ? '' : ` for ${a.for}`}`;
    case 'load':
      return `add ${a.clients} clients for ${a.for}`;
    default:
      return a.action;
  }
}
