import type { Browser } from 'puppeteer-core';
import { afterAll, describe, expect, it } from 'vitest';
import { AccessTokens } from '../../frontend/access-tokens.js';
import { TWO_GROUPS, startFrontend, stopFrontends } from '../http/frontend-fixture.js';
import { UI_TOKEN, twoGroupsUi } from '../http/ui-fixture.js';
import { until } from '../process/node-processes.js';
import { chromiumPath, launchChromium } from './browser.js';

// With bearer tokens on, /ui loads without one, asks for it on the 401 of /ui/state, and shows
// the cluster once it is entered (one in-process frontend: no cluster to start).

const browserPath = chromiumPath();

describe.skipIf(browserPath === null)('the dashboard with bearer tokens, in a browser', () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
    stopFrontends();
  });

  it('asks for the token and shows the cluster once it is entered', async () => {
    const { port } = await startFrontend({
      cluster: TWO_GROUPS,
      tokens: AccessTokens.parse(`${UI_TOKEN} read\n`),
      ui: twoGroupsUi,
    });
    browser = await launchChromium(browserPath!);
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/ui`);
    await page.waitForSelector('#token-form:not([hidden])', { timeout: 10_000 });
    expect(await page.$$eval('.group', (cards) => cards.length)).toBe(0);
    await page.type('#token', UI_TOKEN);
    await page.click('#token-form button');
    const shown = await until('both groups shown', async () => {
      const groups = await page.$$eval('.group', (cards) =>
        cards.map((card) => card.getAttribute('data-group')),
      );
      return groups.length === 2 ? groups : undefined;
    });
    expect(shown).toEqual(['0', '1']);
    expect(await page.$eval('#token-form', (form) => form.hasAttribute('hidden'))).toBe(true);
    expect(await page.evaluate('sessionStorage.getItem("zabkv-token")')).toBe(UI_TOKEN);
  }, 60_000);
});
