import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect } from 'chai';
import { type Browser, chromium, type Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../../bin/build-console';
import { authorize, makeReseller, type TestReseller } from './fixtures';
import { type SystemOptions, startSystem, type TestSystem } from './system';

/**
 * Debian's chromium driven by playwright-core: no browser is ever downloaded. `.ci/run` installs
 * the package when it is missing; CHROMIUM_PATH overrides the lookup. Every browser test launches
 * through here (console, mailbox, docs).
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH || which('chromium') || which('chromium-browser');
  if (!executablePath) throw new Error('No chromium on PATH: apt-get install -y chromium (or set CHROMIUM_PATH).');
  return chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}

function which(cmd: string): string | undefined {
  try {
    return execFileSync('which', [cmd], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const SCREENSHOTS = path.resolve(__dirname, '../../test-artifacts/screenshots');
export const WIDTHS = { wide: 1280, narrow: 390 } as const;

/** Where a screenshot named `name` goes (test-artifacts/screenshots/<name>.png; the folder is made). */
export function screenshotPath(name: string): string {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return path.join(SCREENSHOTS, `${name}.png`);
}

/**
 * Screenshots of the page at both widths (test-artifacts/screenshots/console-<name>-<width>.png),
 * then back to the wide viewport. Also fails when the narrow page scrolls sideways.
 */
export async function screenshotBothWidths(page: Page, name: string, opts: { fullPage?: boolean } = {}) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  for (const width of [WIDTHS.wide, WIDTHS.narrow]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: path.join(SCREENSHOTS, `console-${name}-${width}.png`), fullPage: opts.fullPage ?? true });
    if (width === WIDTHS.narrow) {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${name} scrolls sideways at ${width}px`).to.be.at.most(0);
    }
  }
  await page.setViewportSize({ width: WIDTHS.wide, height: 900 });
}

/** axe-core against WCAG 2.1 A and AA; the failure lists each violation and where. */
export async function expectAccessible(page: Page, label: string) {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const problems = result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect(problems, `${label}: accessibility violations`).to.deep.equal([]);
}

/** What a console suite runs against: the system, a losing reseller the gaining one authorized, Chromium. */
export interface ConsoleSuite {
  sys: TestSystem;
  browser: Browser;
  losing: TestReseller;
  gaining: TestReseller;
}

/**
 * The `before` every console suite repeated: the console built, the system started with `opts`,
 * `<prefix>-losing` authorized by `<prefix>-gaining`, Chromium launched. Stop it with stopConsoleSuite.
 */
export async function startConsoleSuite(prefix: string, opts: SystemOptions = {}): Promise<ConsoleSuite> {
  await ensureConsoleBuilt({ quiet: true });
  const sys = await startSystem(opts);
  try {
    const losing = await makeReseller(sys, `${prefix}-losing`);
    const gaining = await makeReseller(sys, `${prefix}-gaining`);
    await authorize(sys, gaining, losing);
    return { sys, browser: await launchChromium(), losing, gaining };
  } catch (err) {
    await sys.stop();
    throw err;
  }
}

/** Closes what startConsoleSuite opened (either part may be missing when its `before` failed). */
export async function stopConsoleSuite(suite: Partial<ConsoleSuite> | undefined): Promise<void> {
  await suite?.browser?.close();
  await suite?.sys?.stop();
}

/** Signs `who` in through the console's form at `to` and waits until the page says who is signed in. */
export async function signIn(page: Page, sys: TestSystem, who: TestReseller, to: string): Promise<void> {
  await page.goto(sys.url + to);
  await page.getByLabel('API key').fill(who.key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`Signed in as ${who.username}`).waitFor();
}
