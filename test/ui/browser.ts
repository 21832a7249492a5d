import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';

/**
 * Debian's Chromium (`apt-get install chromium`), or the one CHROMIUM_PATH names; null when
 * there is none. puppeteer-core never downloads a browser.
 */
export function chromiumPath(): string | null {
  const candidates = [
    process.env['CHROMIUM_PATH'],
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
  ];
  return candidates.find((path) => path !== undefined && existsSync(path)) ?? null;
}

export function launchChromium(executablePath: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath,
    headless: true,
    // Root in a container: Chromium's sandbox needs user namespaces it may not have here.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}
