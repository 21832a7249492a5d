import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, httpUrl } from '../../client/local-cluster.js';
import { runLoad } from '../../loadgen/load-generator.js';
import { ZabkvTarget } from '../../loadgen/load-target.js';
import { freePorts, until } from '../process/node-processes.js';
import { chromiumPath, launchChromium } from './browser.js';

// The dashboard in a real headless Chromium (issue 13): a 6-node cluster's /ui shows its two
// groups with their leaders and a throughput chart that moves under load; a killed leader
// shows as dead and the new leader appears. Run under the heavy-test lock (RULES).

const browserPath = chromiumPath();
if (browserPath === null) {
  console.warn('test/ui/dashboard.test.ts skipped: no Chromium (apt-get install chromium)');
}

interface GroupCard {
  readonly group: string;
  readonly leader: string;
  readonly roles: Record<string, string>;
}

/** What the page shows of each group, read from the DOM. */
function groupsShown(page: Page): Promise<GroupCard[]> {
  return page.$$eval('.group', (cards) =>
    cards.map((card) => {
      const roles: Record<string, string> = {};
      for (const row of card.querySelectorAll('tr[data-node]')) {
        roles[row.getAttribute('data-node')!] = row.getAttribute('data-role')!;
      }
      return {
        group: card.getAttribute('data-group')!,
        leader: card.getAttribute('data-leader')!,
        roles,
      };
    }),
  );
}

describe.skipIf(browserPath === null)('the dashboard in a browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zabkv-ui-'));
  let cluster: LocalCluster;
  let browser: Browser;
  let page: Page;
  let target: ZabkvTarget;
  let load: Promise<unknown>;
  let stopLoad = false;

  beforeAll(async () => {
    const ports = await freePorts(12);
    cluster = new LocalCluster({
      nodes: 6,
      replication: 3,
      dataDir: join(dir, 'data'),
      firstHttpPort: ports,
      firstPeerPort: ports + 6,
      cli: 'dist/cli/cli.js',
      env: { LOG_LEVEL: 'warn' },
    });
    cluster.start();
    browser = await launchChromium(browserPath!);
    await cluster.ready(60_000);
    const urls = Array.from({ length: 6 }, (_, i) => httpUrl(cluster.options, i + 1));
    target = new ZabkvTarget(urls, 4);
    // Light open-loop load in one-second rounds until the test ends.
    load = (async () => {
      while (!stopLoad) {
        await runLoad({
          target,
          clients: 8,
          rate: 100,
          durationSec: 1,
          readRatio: 0.5,
          consistency: 'linearizable',
          keySpace: 100,
          keyDistribution: 'uniform',
          valueSize: 16,
          warmupSec: 0,
          seed: 7,
        }).catch(() => undefined);
      }
    })();
    page = await browser.newPage();
    await page.goto(`${httpUrl(cluster.options, 1)}/ui`);
  }, 120_000);

  afterAll(async () => {
    stopLoad = true;
    await load;
    await target?.close();
    await browser?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows both groups, each with a leader, and a moving throughput chart', async () => {
    const groups = await until('two groups with leaders', async () => {
      const shown = await groupsShown(page);
      return shown.length === 2 && shown.every((g) => g.leader !== '') ? shown : undefined;
    });
    for (const group of groups) {
      expect(Object.keys(group.roles)).toHaveLength(3);
      expect(group.roles[group.leader]).toBe('leading');
    }
    expect(await page.$$eval('#ranges div', (parts) => parts.length)).toBeGreaterThanOrEqual(2);
    const ops = () =>
      page.$eval('#throughput', (element) => Number(element.getAttribute('data-ops')));
    await until('requests in the throughput chart', async () =>
      (await ops()) > 0 ? true : undefined,
    );
    expect(await page.$$eval('#throughput canvas', (canvases) => canvases.length)).toBe(1);
  });

  it('shows a killed leader dead and the new leader within seconds', async () => {
    const [before] = await groupsShown(page);
    const old = Number(before!.leader);
    cluster.process(old)!.kill('SIGKILL');
    const after = await until(
      'the old leader dead and a new one leading',
      async () => {
        const group = (await groupsShown(page)).find((g) => g.group === before!.group);
        return group !== undefined &&
          group.roles[String(old)] === 'dead' &&
          group.leader !== '' &&
          group.leader !== String(old)
          ? group
          : undefined;
      },
      20_000,
    );
    expect(after.roles[after.leader]).toBe('leading');
    const events = await page.$$eval('#events li', (items) => items.map((i) => i.textContent));
    expect(events.some((e) => e?.includes(`node ${old} does not answer`))).toBe(true);
  });
});
