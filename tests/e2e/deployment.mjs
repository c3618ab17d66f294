// e2e.deployment.<name> (issue 12): one reference deployment proven in Debian's chromium. Walks the
// promises of the organisation's privacy statement one by one, each named in its check's title:
// before a choice nothing non-essential is stored or contacted; a refusal is respected; accepting
// enables what the statement lists; consent is changed through the privacy statement's link;
// withdrawal keeps the history; access and export; deletion; the privacy statement's cookie
// section is what --privacy-text prints; the dashboard shows the visits in aggregate only. Every
// further site of the deployment gets the first-visit checks and its own controller's name. Then
// configs/deployments/<name>/test.mjs (its default export gets the harness) checks what only that
// organisation promised.
// Usage: node tests/e2e/deployment.mjs build/gateway/consent-gateway NAME
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { startDeployment } from './deployment_harness.mjs';

const [binaryArg, name] = process.argv.slice(2);
if (!name) { console.log('usage: node tests/e2e/deployment.mjs CONSENT_GATEWAY NAME'); process.exit(2); }
const h = await startDeployment(name, binaryArg ? resolve(binaryArg) : '');
const { check, step, open, act, decide, dialogShown, saveChoice, inPage, state, settle, jar, optional, shot, sleep } = h;
const [main, ...others] = h.sites;
const thirdParties = site => (site.config.banner?.third_parties || []).length > 0;

/// First visit to `site`: the banner, nothing optional stored, no third party contacted.
async function firstVisit(site, label) {
  const { ctx, page, tr } = await open(site, '/');
  check(`promise: when the website opens the visitor gets a choice (${site.host}: banner shown)`, await dialogShown(page));
  await settle(page);
  await sleep(300);
  const names = await jar(ctx, site);
  check(`promise: before a choice nothing non-essential is stored (${site.host})`, optional(site, names).length === 0, names.join(','));
  check(`promise: before a choice no third party is contacted (${site.host})`, tr.length === 0, tr.map(x => x.host).join(' '));
  const dialogText = await page.$eval(h.DLG, d => d.textContent);
  check(`promise: the banner names ${site.controller}, the controller of ${site.host}`, dialogText.includes(site.controller));
  for (const other of h.sites.filter(s => s.controller !== site.controller)) {
    check(`promise: ${site.host}'s banner does not name ${other.controller}`, !dialogText.includes(other.controller));
  }
  check(`no uncaught page error (${site.host})`, page.errors.length === 0, page.errors.join(' | '));
  await shot(page, `${label}-banner-nb`);
  await ctx.close();
}

await step('first visit', () => firstVisit(main, main.name));

await step('screenshots en and 320 px', async () => {
  // The banner speaks the page's language; the stand-in sites are Norwegian, so the English
  // view is of the same page marked lang="en".
  const en = await open(main, '', { locale: 'en-GB' });
  await en.ctx.route(`${main.origin}/`, async route => {
    const r = await h.request(main, '/', { headers: { 'Accept-Language': 'en-GB', Accept: 'text/html' } });
    await route.fulfill({ status: r.status, contentType: r.headers['content-type'], body: r.text.replace(/<html lang="nb"/, '<html lang="en"') });
  });
  await en.page.goto(`${main.origin}/`);
  check('the banner speaks English on an English page', await dialogShown(en.page) &&
    /Reject all/.test(await en.page.$eval(h.DLG, d => d.textContent)));
  await shot(en.page, `${main.name}-banner-en`);
  await en.ctx.close();
  const small = await open(main, '/', { viewport: { width: 320, height: 640 } });
  await dialogShown(small.page);
  await small.page.click(act('settings'));
  await small.page.waitForSelector(`${h.DLG} .cg-l2:not([hidden])`);
  const width = await small.page.evaluate(() => document.documentElement.scrollWidth);
  check('the settings layer fits 320 px without horizontal scrolling', width <= 320, `${width}px`);
  await shot(small.page, `${main.name}-settings-320`);
  await small.ctx.close();
});

await step('refusal', async () => {
  const { ctx, page, tr } = await open(main, '/');
  await dialogShown(page);
  const r = await decide(page, act('reject-all'));
  check('promise: a refusal is recorded and grants only what is necessary', r.status === 200 && JSON.stringify(r.granted) === '["necessary"]', JSON.stringify(r));
  await page.reload();
  await settle(page);
  await sleep(300);
  check('promise: a refusal is respected (no banner again, nothing optional stored, no third party)',
    !(await dialogShown(page, 800)) && optional(main, await jar(ctx, main)).length === 0 && tr.length === 0,
    `${(await jar(ctx, main)).join(',')} | ${tr.map(x => x.host).join(' ')}`);
  await ctx.close();
});

// Accept, change through the privacy statement's link, history, export, deletion: one visitor.
const visitor = await open(main, '/');
let consentId = '';
await step('acceptance', async () => {
  const { ctx, page, tr } = visitor;
  await dialogShown(page);
  const r = await decide(page, act('accept-all'));
  consentId = r.consent_id;
  check('promise: accepting all is recorded with a consent id', r.status === 200 && !!consentId && r.method === 'accept-all' && r.granted.length >= 2, JSON.stringify(r));
  await page.reload();
  await settle(page);
  await sleep(300);
  const names = await jar(ctx, main);
  const cookiesListed = optional(main, names);
  const setsOptional = (main.config.consent?.cookies || []).some(c => c.category !== 'necessary');
  check('promise: after consent the cookies the statement lists are set', !setsOptional || cookiesListed.length > 0, names.join(','));
  if (thirdParties(main)) check('promise: after consent the listed third parties load', tr.length > 0, `${tr.length} requests`);
});

await step('change through the privacy statement', async () => {
  const { ctx, page, tr } = visitor;
  await page.goto(`${main.origin}/personvern`);
  await settle(page);
  // The link of the generated section (--privacy-text), as the organisation pastes it.
  const link = page.locator('a[data-consent-open]', { hasText: 'Endre innstillinger for informasjonskapsler' });
  check('the privacy statement has the generated link that re-opens the banner', await link.count() === 1, `${await link.count()}`);
  await link.first().click();
  await page.waitForSelector(`${h.DLG} .cg-l2:not([hidden])`, { timeout: 4000 });
  const checked = await page.$$eval(`${h.DLG} input[data-consent-category]:not([disabled])`, els => els.filter(e => e.checked).length);
  check('promise: the link re-opens the banner showing the current choice', checked > 0, `${checked} ticked`);
  await shot(page, `${main.name}-privacy-link-settings`);
  const t = Date.now();
  // A withdrawal reloads the page (the banner erases what scripts stored, then starts afresh).
  const [r] = await Promise.all([saveChoice(page, []), page.waitForEvent('load', { timeout: 8000 })]);
  check('promise: consent can be withdrawn through the link (recorded as a withdrawal)', r.status === 200 && r.method === 'withdraw' && JSON.stringify(r.granted) === '["necessary"]', JSON.stringify(r));
  await settle(page);
  await page.goto(`${main.origin}/`);
  await settle(page);
  await sleep(300);
  const names = await jar(ctx, main);
  check('promise: withdrawal removes the optional cookies at once and nothing optional loads again',
    optional(main, names).length === 0 && tr.filter(x => x.t > t + 200).length === 0, `${names.join(',')} | ${tr.filter(x => x.t > t + 200).map(x => x.host)}`);
});

await step('history, access and export', async () => {
  const { page } = visitor;
  const rec = await inPage(page, '/_consent/record');
  let doc = {};
  try { doc = JSON.parse(rec.text); } catch { /* checked below */ }
  check('promise: access and portability: the record downloads as a JSON attachment', rec.status === 200 && /attachment/.test(rec.disposition) && doc.consent_id === consentId, `${rec.status} ${rec.disposition}`);
  const methods = (doc.events || []).map(e => e.method);
  check('promise: withdrawal keeps the history (accept-all, then the withdrawal, both provable)',
    methods.includes('accept-all') && methods.includes('withdraw') && (doc.events || []).every(e => e.banner_hash && e.policy_version), methods.join(','));
  check('promise: the record holds no IP address and no user agent', !/127\.0\.0\.1|Chrome\/|Mozilla/.test(rec.text));
  const retention = main.config.consent?.retention_days;
  if (retention) check(`promise: consent records are kept ${retention} days`, doc.stored?.retention_days === retention, `${doc.stored?.retention_days}`);
});

await step('deletion', async () => {
  const { ctx, page } = visitor;
  const del = await inPage(page, '/_consent/record', { method: 'DELETE' });
  check('promise: the visitor deletes the record without asking anyone (DELETE 200)', del.status === 200, `${del.status} ${del.text.slice(0, 100)}`);
  const after = await inPage(page, '/_consent/record');
  const lookup = await h.adminFetch(`/consent/history?site=${main.name}&id=${consentId}`);
  const gone = lookup.status === 404 || !(await lookup.text()).includes('accept-all');
  check('promise: after deletion nothing is left to look up', after.status !== 200 && gone, `${after.status} ${lookup.status}`);
  check('promise: after deletion the consent cookie is gone', !(await jar(ctx, main)).includes('cg_consent'));
  await ctx.close();
});

await step('privacy statement generated', async () => {
  for (const site of h.sites) {
    const drift = h.privacyDrift(site);
    check(`promise: ${site.host}'s privacy statement carries the cookie section --privacy-text prints`, drift === '', drift);
    const d = await h.request(site, '/_consent/declaration', { headers: { Accept: 'application/json' } });
    check(`the declaration of ${site.host} names its controller`, d.status === 200 && JSON.parse(d.text).controller.name === site.controller, `${d.status}`);
  }
});

for (const site of others) await step(`first visit ${site.name}`, () => firstVisit(site, site.name));

await step('dashboard', async () => {
  // The visits above reach Redis within the flush interval (200 ms here).
  const ctx = await h.browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'nb-NO' });
  const page = await ctx.newPage();
  await page.goto(`${h.admin}/stats/?site=${main.name}`);
  await page.fill('input[name=username]', 'marketing');
  await page.fill('input[name=password]', 'demo-marketing');
  await Promise.all([page.waitForURL(`${h.admin}/stats/**`), page.click('button[type=submit]')]);
  const summary = await h.until(async () => {
    const r = await page.request.get(`${h.admin}/stats/api/summary?site=${main.name}`);
    const j = r.status() === 200 ? await r.json() : {};
    return j.page_views >= 3 ? j : null;
  }, 10000, 250);
  check('promise: marketing reads the visits on the dashboard (page views counted without cookies)', !!summary, JSON.stringify(summary));
  const pages = await (await page.request.get(`${h.admin}/stats/api/pages?site=${main.name}`)).json();
  const k = main.config.analytics?.k || 5;
  check(`promise: statistics in aggregate only (no page row about fewer than ${k} visitors)`, (pages.rows || []).every(r => r.visitors >= k), JSON.stringify(pages.rows));
  await page.waitForSelector('canvas', { timeout: 10000 });
  await sleep(600);
  await shot(page, `${main.name}-dashboard`);
  const keys = h.redis('--scan');
  const dump = keys.split('\n').filter(Boolean).slice(0, 500).map(key => h.redis('--no-raw', 'DUMP', key)).join('\n');
  check('promise: nothing in Redis identifies a visitor (no address, no user agent, no cookie value)',
    !/127\.0\.0\.1|Chrome\/131|HeadlessChrome/.test(keys + dump), keys.split('\n').length + ' keys');
  await ctx.close();
});

const extra = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'configs', 'deployments', name, 'test.mjs');
if (existsSync(extra)) await (await import(pathToFileURL(extra).href)).default(h);
await h.finish();
