import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { startOneNode } from '../node/one-node.js';

// docs/ops (issue 13): every metric the Grafana dashboard and the Prometheus alert rules use
// is one a node exports at /metrics, so renaming a metric breaks this test, not an operator's
// dashboard.

const dataDir = mkdtempSync(join(tmpdir(), 'zabkv-ops-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Metric names in PromQL expressions (ours and Node's default ones). */
function metricsIn(expressions: readonly string[]): Set<string> {
  const names = expressions.flatMap((e) => e.match(/\b(zabkv|nodejs|process)_[a-z0-9_]+/g) ?? []);
  return new Set(names.map((n) => n.replace(/_(bucket|sum|count)$/, '')));
}

function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync('docs/ops/grafana-dashboard.json', 'utf8')) as {
    panels: { targets: { expr: string }[] }[];
  };
  return dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
}

function alertExpressions(): string[] {
  const rules = parse(readFileSync('docs/ops/prometheus-alerts.yml', 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
}

describe('docs/ops', () => {
  it('uses only metrics that a node exports', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const host = await startOneNode({ clusterId: 'ops-test', dataDir, registry });
    const app = host.frontend.server;
    await vi.waitFor(
      async () => expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200),
      { timeout: 20_000, interval: 50 },
    );
    expect((await app.inject({ method: 'PUT', url: '/kv/k', payload: 'v' })).statusCode).toBe(200);
    const text = (await app.inject({ url: '/metrics' })).body;
    await host.shutdown(1_000);
    const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));

    const used = metricsIn([...dashboardExpressions(), ...alertExpressions()]);
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('has the alerts the issue asks for', () => {
    const rules = parse(readFileSync('docs/ops/prometheus-alerts.yml', 'utf8')) as {
      groups: { rules: { alert: string }[] }[];
    };
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    for (const alert of [
      'ZabkvNoLeader',
      'ZabkvFrequentLeaderChanges',
      'ZabkvSlowFsync',
      'ZabkvProposalsFailing',
      'ZabkvQuotaNear',
    ]) {
      expect(alerts).toContain(alert);
    }
  });
});
