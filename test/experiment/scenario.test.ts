import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseScenario, readScenario, ScenarioError } from '../../experiment/scenario.js';

const base = `
name: t
cluster: { nodes: 6, replication: 3 }
workload: { clients: 4, readRatio: 0.5, keys: 10, duration: 20s }
`;

describe('scenario files', () => {
  it('parses a timeline, sorted by time, with durations in any unit', () => {
    const scenario = parseScenario(
      `${base}timeline:\n  - { at: 15s, action: restart }\n  - { at: 2500ms, action: kill, leaderOf: 1 }\n`,
    );
    expect(scenario.timeline.map((a) => a.action)).toEqual(['kill', 'restart']);
  });

  it.each([
    ['cluster: { nodes: 6 }', /cluster\.replication: Expected required property/],
    [
      'workload: { clients: 4, readRatio: 2, keys: 10, duration: 20s }',
      /workload\.readRatio: Expected number to be less or equal to 1/,
    ],
    [
      'workload: { clients: 4, readRatio: 0.5, keys: 10, duration: soon }',
      /workload\.duration: .*a duration such as 10s/,
    ],
    [
      'timeline: [{ at: 1s, action: explode }]',
      /timeline\[0\]\.action: unknown action "explode" \(one of kill, /,
    ],
    [
      'timeline: [{ at: 1s, action: kill }]',
      /timeline\[0\]: kill needs exactly one of node, leaderOf, followerOf/,
    ],
    [
      'timeline: [{ at: 1s, action: kill, node: 9 }]',
      /timeline\[0\]\.node: node 9 is not in a 6-node cluster/,
    ],
    [
      'timeline: [{ at: 1s, action: kill, leaderOf: 2 }]',
      /timeline\[0\]\.leaderOf: group 2 does not exist/,
    ],
    [
      'timeline: [{ at: 1s, action: cut, from: 1 }]',
      /timeline\[0\]\.to: Expected required property/,
    ],
    ['timeline: [{ at: 1m, action: heal }]', /timeline\[0\]\.at: 1m is after the workload ends/],
    ['timeline: [{ at: 1s, action: heal, node: 1 }]', /timeline\[0\]\.node: Unexpected property/],
  ])('names the field and the problem: %s', (change, message) => {
    const key = change.split(':')[0]!;
    const text = [...base.split('\n').filter((line) => !line.startsWith(`${key}:`)), change].join(
      '\n',
    );
    expect(() => parseScenario(text, 'broken.yaml')).toThrow(ScenarioError);
    expect(() => parseScenario(text, 'broken.yaml')).toThrow(message);
  });

  it('says when the file is not YAML', () => {
    expect(() => parseScenario('a: [1, 2', 'x.yaml')).toThrow(/x\.yaml: not valid YAML or JSON/);
  });

  it('accepts every example in experiments/', () => {
    const files = readdirSync('experiments').filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(() => readScenario(`experiments/${file}`)).not.toThrow();
  });
});
