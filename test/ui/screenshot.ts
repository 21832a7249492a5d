import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, httpUrl } from '../../client/local-cluster.js';
import { runLoad } from '../../loadgen/load-generator.js';
import { ZabkvTarget } from '../../loadgen/load-target.js';
import { freePorts, until } from '../process/node-processes.js';
import { chromiumPath, launchChromium } from './browser.js';

// `npm run ui:screenshot`: a 6-node cluster under load, one leader killed and restarted, and
// the dashboard of node 1 photographed into docs/ui.png for the README.

const out = process.argv[2] ?? 'docs/ui.png';
const browserPath = chromiumPath();
if (browserPath === null) {
  console.error('no Chromium found: apt-get install chromium (or set CHROMIUM_PATH)');
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'zabkv-ui-shot-'));
const ports = await freePorts(12);
const cluster = new LocalCluster({
  nodes: 6,
  replication: 3,
  dataDir: dir,
  firstHttpPort: ports,
  firstPeerPort: ports + 6,
  cli: 'dist/cli/cli.js',
  env: { LOG_LEVEL: 'warn' },
});
cluster.start();
const browser = await launchChromium(browserPath);
try {
  await cluster.ready(60_000);
  const urls = Array.from({ length: 6 }, (_, i) => httpUrl(cluster.options, i + 1));
  const target = new ZabkvTarget(urls, 8);
  const load = (durationSec: number) =>
    runLoad({
      target,
      clients: 16,
      durationSec,
      readRatio: 0.5,
      consistency: 'linearizable',
      keySpace: 1000,
      keyDistribution: 'uniform',
      valueSize: 100,
      warmupSec: 0,
      seed: 1,
    }).catch(() => undefined);
  const running = load(40);
  await new Promise((resolve) => setTimeout(resolve, 15_000));
  const state = (await (await fetch(`${urls[0]}/ui/state`)).json()) as {
    groups: { leader: number | null }[];
  };
  const leader = state.groups[0]?.leader;
  if (leader !== null && leader !== undefined) {
    cluster.process(leader)?.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    cluster.startNode(leader);
  }
  await running;
  await target.close();
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1100 });
  await page.goto(`${urls[0]}/ui`);
  await until('the dashboard to draw its groups', async () =>
    (await page.$$('.group')).length === 2 ? true : undefined,
  );
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
