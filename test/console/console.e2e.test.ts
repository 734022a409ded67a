// Head office's console in a real browser (Debian's Chromium driven by Playwright) against real
// parts: nats-server, head office as `cardsys host` runs it (API, console, read models, ingest,
// inquiry centre), stores A and B whose WAN links can be cut, and a card issued through the API.
// Each test saves a screenshot in test-results/console/.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_BUILD_DIR } from '../../infra/index.js';
import { startConsoleWorld, type ConsoleWorld } from '../../testkit/console-world.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = join('test-results', 'console');
const LOAD = 10_000;
const PAYS = [5_500, 1_200];

describe('head office console in a browser', () => {
  let world: ConsoleWorld;
  let browser: Browser;
  let page: Page;

  const shot = (name: string, on: Page = page) => on.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });
  const signIn = async (on: Page, token: string) => {
    await on.goto(`${world.host.url}/console/`);
    await on.fill('textarea[name=token]', token);
    await on.click('button[type=submit]');
    await on.waitForSelector('[data-testid=who]');
  };
  const rowOf = (storeId: string) => page.locator(`[data-testid=store-row-${storeId}]`);
  /** What the page shows, read again every 100 ms (the page itself is never reloaded). */
  const shown = <T>(read: () => Promise<T>, timeout = 20_000) => expect.poll(read, { timeout, interval: 100 });
  const stateOf = (storeId: string) => rowOf(storeId).getAttribute('data-state');
  const rows = (on: Page, kind: string) => on.locator(`[data-testid=timeline] tr[data-kind=${kind}]`);

  beforeAll(async () => {
    if (!existsSync(join(CONSOLE_BUILD_DIR, 'index.html')))
      throw new Error(`head office's console is not built in ${CONSOLE_BUILD_DIR}: run "make build" first`);
    mkdirSync(OUTPUT, { recursive: true });
    world = await startConsoleWorld(['A', 'B']);
    const a = world.stores.get('A')!;
    expect(await a.command({ load: { amount: LOAD, pin: world.pin } })).toMatchObject({ ok: true, balance: LOAD });
    expect(await a.command({ pay: { amount: PAYS[0]! } })).toMatchObject({ ok: true, balance: LOAD - PAYS[0]! });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await world?.close();
  });

  it('signs in with an operator token and shows stores A and B caught up', async () => {
    await signIn(page, await world.token('operator'));
    expect(await page.textContent('[data-testid=who]')).toContain('operator');
    for (const storeId of ['A', 'B']) await rowOf(storeId).waitFor();
    await shown(() => stateOf('A')).toBe('caught-up');
    expect(await stateOf('B')).toBe('caught-up');
    await shot('overview-signed-in');
  });

  it('shows store A offline without a reload when its link is cut, and caught up once it returns', async () => {
    const a = world.stores.get('A')!;
    const cutAt = Date.now();
    a.link.cut();
    await shown(() => stateOf('A'), 10_000).toBe('offline');
    const redAfterMs = Date.now() - cutAt;
    console.log(`store A showed offline ${redAfterMs} ms after its link was cut`);
    expect(redAfterMs).toBeLessThan(5_000);
    // Pays go on at the counter while head office hears nothing.
    expect(await a.command({ pay: { amount: PAYS[1]! } })).toMatchObject({ ok: true, balance: LOAD - PAYS[0]! - PAYS[1]! });
    expect(await stateOf('B')).toBe('caught-up');
    // Head office still holds fewer of A's events than A has logged.
    const held = Number((await rowOf('A').locator('td.number').first().textContent())!.replace(/\D+/g, ' ').trim().split(' ')[0]);
    expect(held).toBeLessThan(a.edge.log.headSeq);
    await shot('overview-store-A-offline');

    a.link.restore();
    await shown(() => stateOf('A')).toBe('caught-up');
    await shown(async () => (await rowOf('A').locator('td.number').first().textContent())?.trim()).toBe(`#${a.edge.log.headSeq}`);
    expect(await page.textContent('[data-testid=behind-A]')).toBe('0');
    await shot('overview-store-A-caught-up');
  });

  it("finds the customer's card by user and shows its load and pays", async () => {
    await page.click('header nav a[href="#/card"]');
    await page.fill('input[name=search]', world.userId);
    await page.click('form.search button');
    await page.waitForSelector('[data-testid=card-view]');
    expect(await page.textContent('[data-testid=card-id]')).toContain(world.cardId);
    await shown(() => rows(page, 'PursePaid').count()).toBe(PAYS.length);
    const loads = await rows(page, 'PurseLoaded').allTextContents();
    expect(loads).toHaveLength(1);
    expect(loads[0]).toContain('¥10,000');
    const pays = await rows(page, 'PursePaid').allTextContents();
    expect(pays.map((row) => row.includes('¥5,500') || row.includes('¥1,200'))).toEqual([true, true]);
    expect(pays.every((row) => row.includes('pos-1'))).toBe(true);
    const balance = `¥${(LOAD - PAYS[0]! - PAYS[1]!).toLocaleString('en-US')}`;
    expect(await page.textContent('[data-testid=chip-balance]')).toContain(balance);
    expect(await page.textContent('[data-testid=shadow-balance]')).toContain(balance);
    await shot('card-timeline');
  });

  it('blacklists the card from the page, and a pay at store A is then refused', async () => {
    const a = world.stores.get('A')!;
    const versionBefore = a.edge.purse!.blacklist.version;
    await page.fill('form.blacklist input[name=reason]', 'reported stolen at the counter');
    await page.click('form.blacklist button');
    await shown(() => page.textContent('[data-testid=blacklist-state]'), 10_000).toMatch(/^blacklisted/);
    expect(await page.textContent('[data-testid=blacklist-reach]')).toContain(`v${versionBefore + 1}`);
    // The change reaches store A's copy of the blacklist over NATS; then its counter refuses the card.
    const deadline = Date.now() + 10_000;
    while (a.edge.purse!.blacklist.version <= versionBefore && Date.now() < deadline) await new Promise((settle) => setTimeout(settle, 50));
    const refused = await a.command({ pay: { amount: 100 } });
    expect(refused).toMatchObject({ ok: false });
    expect(`${refused.code} ${refused.message}`).toMatch(/blacklist/i);
    // The edge counted the pays it made and the one it refused.
    const scraped = await a.metrics.registry.text();
    expect(scraped).toMatch(/^cardsys_edge_pos_command_duration_seconds_count\{command="pay",outcome="ok"\} 2$/m);
    expect(scraped).toMatch(/^cardsys_edge_pos_command_duration_seconds_count\{command="pay",outcome="blacklisted"\} 1$/m);
    await page.reload();
    await shown(() => rows(page, 'PurseOperationDeclined').count()).toBeGreaterThan(0);
    await shot('card-blacklisted');
  });

  it('shows personal data to a clerk and none to a viewer', async () => {
    const clerk = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await signIn(clerk, await world.token('clerk'));
    await clerk.goto(`${world.host.url}/console/#/card/${world.cardId}`);
    await clerk.waitForSelector('[data-testid=personal-name]');
    expect(await clerk.textContent('[data-testid=personal-name]')).toBe(world.customerName);
    expect(await clerk.textContent('[data-testid=bank-id]')).toBe(world.bankId);
    await shot('card-as-clerk', clerk);
    await clerk.close();

    const viewer = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await signIn(viewer, await world.token('viewer'));
    await viewer.goto(`${world.host.url}/console/#/card/${world.cardId}`);
    await viewer.waitForSelector('[data-testid=card-view]');
    await viewer.waitForSelector('[data-testid=timeline]');
    const text = (await viewer.textContent('body'))!;
    expect(await viewer.textContent('[data-testid=bank-id]')).toContain('withheld');
    expect(await viewer.locator('[data-testid=personal-name]').count()).toBe(0);
    expect(text).not.toContain(world.customerName);
    expect(text).not.toContain(world.bankId);
    // Nor can a viewer search by bank ID.
    const search = await fetch(`${world.host.url}/v1/cards?bankId=${world.bankId}`, {
      headers: { authorization: `Bearer ${await world.token('viewer')}` },
    });
    expect(search.status).toBe(403);
    await shot('card-as-viewer', viewer);
    await viewer.close();
  });

  it('reinstates the card from the page; returned at store A, the card shows closed with its balance back to the bank account', async () => {
    const a = world.stores.get('A')!;
    const versionBefore = a.edge.purse!.blacklist.version;
    await page.fill('form.blacklist input[name=reason]', 'found by the customer');
    await page.click('form.blacklist button');
    await shown(() => page.textContent('[data-testid=blacklist-state]'), 10_000).toBe('not blacklisted');
    const deadline = Date.now() + 10_000;
    while (a.edge.purse!.blacklist.version <= versionBefore && Date.now() < deadline) await new Promise((settle) => setTimeout(settle, 50));
    const balance = LOAD - PAYS[0]! - PAYS[1]!;
    expect(await a.command({ cardReturn: { pin: world.pin } })).toMatchObject({ ok: true, balance: 0 });
    await page.reload();
    await shown(() => page.textContent('[data-testid=closed-state]'), 10_000).toMatch(
      new RegExp(`^returned at store A on .+: ¥${balance.toLocaleString('en-US')} back to the bank account$`),
    );
    const timeline = await page.locator('[data-testid=timeline] tr[data-kind]').allTextContents();
    for (const what of ['unload authorised', 'unload', 'account credited', 'closed'])
      expect(timeline.some((row) => row.includes(what))).toBe(true);
    expect(await page.locator('form.blacklist').count()).toBe(0);
    await shot('card-returned');
  });
});
