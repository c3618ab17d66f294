// e2e.banner.gateway: the whole product in Debian's chromium. A redis-server, the real
// consent-gateway and a test website (tests/e2e/site/, real-world GA4, GTM, Meta Pixel, Hotjar and
// YouTube snippets) on 127.0.0.1; every tracker host is routed to a local stub and recorded, and
// nothing leaves the machine. Checks DESIGN.md §3 (L, T, N, A) and §5 as named PASS/FAIL lines;
// exit 1 on any failure, 77 when chromium, playwright-core, redis-server or the binary is missing.
// Screenshots go to $CG_ARTIFACTS (default build-e2e-artifacts)/gateway-*.png.
// Usage: node tests/e2e/banner_gateway.mjs build-core/gateway/consent-gateway
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

import { freePort, sleep, until } from './wait.mjs';

const SKIP = 77;
const here = dirname(fileURLToPath(import.meta.url));
const siteDir = join(here, 'site');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = resolve(process.env.CG_ARTIFACTS || 'build-e2e-artifacts');
const binary = process.argv[2] ? resolve(process.argv[2]) : '';
const T0 = Date.now();

function skip(why) { console.log(`skipped: ${why}`); process.exit(SKIP); }
if (!binary || !existsSync(binary)) skip(`no consent-gateway binary (${binary || 'none given'})`);
if (!existsSync(chromiumPath)) skip(`no chromium at ${chromiumPath} (apt-get install chromium)`);
const redisPath = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'].find(existsSync);
if (!redisPath) skip('no redis-server (apt-get install redis-server)');
let chromium;
try { ({ chromium } = await import('playwright-core')); } catch (e) { skip(`playwright-core not installed (${e.code || e.message})`); }

// ---- cleanup of every child, also on failure ---------------------------------------------------
const tmp = mkdtempSync(join(tmpdir(), 'cg-e2e-gw-'));
const children = [];
let browser = null, site = null;
function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  try { rmSync(tmp, { recursive: true, force: true }); } catch { /* best effort */ }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { console.log(`FAIL e2e.banner.gateway (${sig})`); process.exit(1); });
process.on('unhandledRejection', e => { console.log(`FAIL e2e.banner.gateway unhandled: ${e && e.stack || e}`); process.exit(1); });
const hardStop = setTimeout(() => { console.log('FAIL e2e.banner.gateway.timeout (whole test > 150 s)'); process.exit(1); }, 150000);
hardStop.unref();

// ---- checks --------------------------------------------------------------------------------------
let failed = 0, passed = 0;
function check(name, ok, detail = '') {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  if (ok) passed++; else failed++;
  return ok;
}
const only = process.env.CG_ONLY ? new RegExp(process.env.CG_ONLY) : null;  // debugging: run only matching scenarios
async function step(name, fn) {
  if (only && !only.test(name)) return;
  const t0 = Date.now();
  try { await fn(); } catch (e) { check(name, false, String(e && e.message || e).split('\n')[0]); }
  console.log(`  -- ${name}: ${Date.now() - t0} ms`);
}
function start(cmd, args, name) {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  c.log = '';
  const add = d => { c.log += d; if (c.log.length > 200000) c.log = c.log.slice(-100000); };
  c.stdout.on('data', add); c.stderr.on('data', add);
  c.on('exit', (code, sig) => { if (!shuttingDown) console.log(`  (${name} exited: ${code ?? sig})`); });
  children.push(c);
  return c;
}
let shuttingDown = false;

// ---- 1. redis --------------------------------------------------------------------------------------
const redisSock = join(tmp, 'redis.sock');
start(redisPath, ['--port', '0', '--unixsocket', redisSock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no',
  '--dir', tmp], 'redis-server');
if (!await until(() => existsSync(redisSock), 5000)) { console.log('FAIL redis-server did not create its socket within 5 s'); process.exit(1); }

// ---- 2. the test website -------------------------------------------------------------------------------
const siteLog = [];  // what the upstream saw: path, Cookie, Consent-Categories
const part = f => readFileSync(join(siteDir, f), 'utf8');
function pageHtml(file, nonce) {
  const n = nonce ? ` nonce="${nonce}"` : '';
  return part(file).replace('{{TRACKERS}}', part('_trackers_head.html').split('{{N}}').join(n))
    .replace('{{BODYSTART}}', part('_body_start.html')).split('{{NONCE}}').join(nonce || '')
    .replace('{{FILLER}}', Array.from({ length: 200 }, (_, i) => `<p>Avsnitt ${i}: komprimert tekst som gjentar seg.</p>`).join('\n'));
}
site = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  let p = u.pathname;
  siteLog.push({ path: p, cookie: req.headers.cookie || '', categories: req.headers['consent-categories'] || '', t: Date.now() });
  if (p === '/') p = '/index.html';
  if (p === '/site.css') { res.writeHead(200, { 'Content-Type': 'text/css' }); res.end(part('site.css')); return; }
  if (p === '/personvern' || p === '/privacy') { res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }); res.end('<!DOCTYPE html><html lang="nb"><title>Personvern</title><p>Personvernerklæring'); return; }
  const m = /^\/([a-z0-9]+)\.html$/.exec(p);
  if (!m || m[1].startsWith('_') || !existsSync(join(siteDir, `${m[1]}.html`))) { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('not found'); return; }
  const cookies = req.headers.cookie || '';
  const setCookie = [];
  if (!/(^|;\s*)session=/.test(cookies)) setCookie.push(`session=s${randomBytes(8).toString('hex')}; Path=/; HttpOnly; SameSite=Lax`);
  setCookie.push('_ga=GA1.1.srv; Path=/; Max-Age=63072000');           // analytics, readable by scripts
  setCookie.push('_ga_SRV=GS1.1.srv; Path=/; Max-Age=63072000; HttpOnly');  // analytics, HttpOnly
  const headers = { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Set-Cookie': setCookie };
  let body;
  if (m[1] === 'csp') {
    const nonce = randomBytes(16).toString('base64');
    headers['Content-Security-Policy'] = `script-src 'nonce-${nonce}' 'strict-dynamic'; style-src 'self'; object-src 'none'`;
    body = Buffer.from(pageHtml('csp.html', nonce));
  } else if (m[1] === 'nohead') {
    body = Buffer.from(part('nohead.html'));
  } else body = Buffer.from(pageHtml(`${m[1]}.html`, ''));
  if (m[1] === 'gzip') { body = zlib.gzipSync(body); headers['Content-Encoding'] = 'gzip'; }
  headers['Content-Length'] = body.length;
  res.writeHead(200, headers);
  res.end(body);
});
await new Promise(r => site.listen(0, '127.0.0.1', r));
const sitePort = site.address().port;

// ---- 3. the gateway ----------------------------------------------------------------------------------------
const port = await freePort();
let adminPort = await freePort();
while (adminPort === port) adminPort = await freePort();
const adminToken = randomBytes(16).toString('hex');
const keyFile = join(tmp, 'consent.key');
writeFileSync(keyFile, randomBytes(48).toString('base64') + '\n', { mode: 0o600 });
const config = {
  listen: { address: '127.0.0.1', port },
  admin: { address: '127.0.0.1', port: adminPort, token: adminToken },
  workers: 2,
  log: { level: 'info', access: true },
  redis: { socket: redisSock },
  consent: { key_file: keyFile, journal: { path: join(tmp, 'consent-journal.jsonl') } },
  sites: [{
    name: 'testsite',
    hosts: ['127.0.0.1', 'localhost'],
    upstream: `http://127.0.0.1:${sitePort}`,
    consent: {
      policy_version: 'e2e-1',
      default_language: 'nb',
      cookies: [
        { name: 'session', category: 'necessary', provider: 'Testfirma AS', purpose: 'Keeps the login session.', lifetime: 'session',
          justification: 'The visitor logs in; without the session cookie every page forgets who they are.' },
        { name: '_ga', category: 'analytics', provider: 'Google Analytics', purpose: 'Distinguishes visitors for Google Analytics.', lifetime: '2 years' },
        { name: '_ga_*', category: 'analytics', provider: 'Google Analytics', purpose: 'Keeps the state of a GA4 session.', lifetime: '2 years' },
        { name: '_fbp', category: 'marketing', provider: 'Meta (Facebook)', purpose: 'Identifies the browser for Meta advertising.', lifetime: '3 months' },
      ],
    },
    banner: {
      controller: { name: 'Testfirma AS', contact: 'personvern@testfirma.example', privacy_url: 'https://testfirma.example/personvern' },
      third_parties: ['Google Analytics', 'Google Tag Manager', 'Meta Pixel', 'Hotjar', 'YouTube'],
      reopen: 'bottom-left',
    },
  }],
};
const configFile = join(tmp, 'gateway.json');
writeFileSync(configFile, JSON.stringify(config, null, 2));
const cc = spawnSync(binary, ['--check-config', configFile], { encoding: 'utf8', timeout: 10000 });
const ccOut = `${cc.stdout || ''}${cc.stderr || ''}`.trim();
if (!check('config: --check-config says ok', cc.status === 0 && /\bok\b/i.test(ccOut), ccOut.split('\n').slice(0, 6).join(' | '))) process.exit(1);
const gw = start(binary, [configFile], 'consent-gateway');
const base = `http://127.0.0.1:${port}`;
const ready = await until(async () => {
  try { return (await fetch(`http://127.0.0.1:${adminPort}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200; } catch { return false; }
}, 10000, 100);
if (!check('gateway: /readyz answers 200 (redis connected)', ready)) { console.log(gw.log.slice(-3000)); process.exit(1); }

// ---- 4. the browser ----------------------------------------------------------------------------------------
mkdirSync(artifacts, { recursive: true });
browser = await chromium.launch({ executablePath: chromiumPath, headless: true });

const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const js = body => ({ status: 200, contentType: 'text/javascript', body });
function stubFor(u) {
  const h = u.hostname, p = u.pathname;
  if (h === 'www.googletagmanager.com' && p === '/gtag/js')
    return ['gtag', js("document.cookie='_ga=GA1.1.js; path=/';document.cookie='_ga_TEST=GS1.1.js; path=/';window.__gtagLoaded=true;")];
  if (h === 'www.googletagmanager.com' && p === '/gtm.js')
    return ['gtm', js("document.cookie='_ga=GA1.1.js; path=/';window.__gtmLoaded=true;")];
  if (h === 'www.googletagmanager.com' && p === '/ns.html')
    return ['gtm-ns', { status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>ns</title>' }];
  if (h === 'connect.facebook.net' && p.endsWith('/fbevents.js'))
    return ['fbevents', js("document.cookie='_fbp=fb.1.js; path=/';window.__fbLoaded=true;")];
  if (h === 'www.facebook.com' && p === '/tr') return ['fb-pixel', { status: 200, contentType: 'image/gif', body: GIF }];
  if (h === 'static.hotjar.com' && p.startsWith('/c/hotjar-'))
    return ['hotjar', js("document.cookie='_hjSessionUser_1=hj.js; path=/';localStorage.setItem('_hjid','hj-1');window.__hjLoaded=true;")];
  if (h === 'www.youtube.com' && p.startsWith('/embed/'))
    return ['youtube', { status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>YouTube</title><p>video</p>' }];
  return null;
}
const ANALYTICS = ['gtag', 'gtm', 'gtm-ns', 'hotjar'], MARKETING = ['fbevents', 'fb-pixel', 'youtube'];

async function open(path, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US', ...opts });
  ctx.setDefaultTimeout(6000);
  ctx.setDefaultNavigationTimeout(8000);
  const tr = [];  // recorded tracker requests
  ctx.tr = tr;
  await ctx.route(u => u.hostname !== '127.0.0.1' && u.hostname !== 'localhost', async route => {
    const u = new URL(route.request().url());
    const s = stubFor(u);
    tr.push({ kind: s ? s[0] : 'other', url: u.href, t: Date.now() });
    if (s) await route.fulfill(s[1]); else await route.abort('blockedbyclient');
  });
  const page = await ctx.newPage();
  if (opts.javaScriptEnabled !== false) {
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', e => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
  }
  page.errors = [];
  page.on('pageerror', e => page.errors.push(e.message));
  page.posts = [];
  page.on('response', r => { if (new URL(r.url()).pathname.startsWith('/_consent')) page.posts.push({ method: r.request().method(), path: new URL(r.url()).pathname, status: r.status() }); });
  if (path) await page.goto(base + path, { waitUntil: 'load' });
  return { ctx, page, tr };
}
const shot = (page, name) => page.screenshot({ path: join(artifacts, `gateway-${name}.png`), animations: 'disabled' }).catch(e => console.log(`  (screenshot ${name}: ${e.message})`));

const DLG = '.cg-root .cg-dlg[role="dialog"]';
const act = a => `${DLG} .cg-l:not([hidden]) [data-consent-action="${a}"]`;
const NONNECESSARY = /^(_ga|_ga_.*|_fbp|_hj.*)$/;
const jar = async ctx => (await ctx.cookies(base)).map(c => c.name);
const kinds = (tr, since = 0) => [...new Set(tr.filter(x => x.t >= since).map(x => x.kind))];
const other = tr => tr.filter(x => x.kind === 'other').map(x => x.url);
async function dialogShown(page, ms = 5000) {
  try { await page.waitForSelector(`${DLG}:not([hidden])`, { state: 'visible', timeout: ms }); return true; } catch { return false; }
}
async function consentPost(page, fn) {
  const [r] = await Promise.all([
    page.waitForResponse(r => new URL(r.url()).pathname === '/_consent' && r.request().method() === 'POST', { timeout: 6000 }),
    fn(),
  ]);
  return r;
}
const state = page => page.evaluate(async () => (await fetch('/_consent/state', { headers: { Accept: 'application/json' } })).json());
const settle = page => page.waitForLoadState('networkidle', { timeout: 4000 }).catch(() => {});

// ---- scenarios ------------------------------------------------------------------------------------------------
await step('L1/N4 before any choice', async () => {
  const { ctx, page, tr } = await open('/');
  check('A1 banner is a visible role=dialog with an accessible name', await dialogShown(page) &&
    await page.$eval(DLG, d => !!(d.getAttribute('aria-labelledby') && document.getElementById(d.getAttribute('aria-labelledby'))?.textContent.trim())));
  await settle(page);
  await sleep(300);
  const names = await jar(ctx);
  check('L1/T6 cookie jar holds only necessary cookies before a choice (session kept, _ga/_ga_*/_fbp/_hj* dropped)',
    names.includes('session') && !names.some(n => NONNECESSARY.test(n)), names.join(','));
  check('L1/N4 no tracker request before a choice', tr.length === 0, tr.map(x => x.url).join(' '));
  const yt = await page.$eval('iframe[title="YouTube video player"]', f => ({ src: f.getAttribute('src'), held: f.getAttribute('data-consent-src'),
    prev: f.previousElementSibling && f.previousElementSibling.className }));
  check('L1 YouTube iframe has no src, a .cg-placeholder precedes it', !yt.src && /youtube/.test(yt.held || '') && /cg-placeholder/.test(yt.prev || ''), JSON.stringify(yt));
  check('L1 the page\'s own text/plain analytics script did not run', await page.evaluate(() => window.__siteAnalytics !== true));
  const up = siteLog.filter(x => x.path === '/index.html' || x.path === '/').pop();
  check('L1 upstream is told only necessary is granted', up && /^necessary$/.test(up.categories.trim()), up && up.categories);
  check('L2 first layer names the controller and third parties', await page.$eval(DLG, d => /Testfirma AS/.test(d.textContent) && /Hotjar/.test(d.textContent) && /Meta/.test(d.textContent)));
  check('no uncaught page error (index)', page.errors.length === 0, page.errors.join(' | '));
  await shot(page, 'nb');
  await ctx.close();
});

await step('T1/T3/T4 first layer', async () => {
  const { ctx, page } = await open('/');
  await dialogShown(page);
  const b = await page.$$eval(`${DLG} .cg-l1 [data-consent-action]`, els => els.map(el => {
    const cs = getComputedStyle(el), r = el.getBoundingClientRect();
    return { a: el.getAttribute('data-consent-action'), tag: el.tagName, h: Math.round(r.height), ff: cs.fontFamily, fs: cs.fontSize, fw: cs.fontWeight,
      color: cs.color, bg: cs.backgroundColor, border: cs.borderTopColor };
  }));
  const by = a => b.find(x => x.a === a);
  check('T1 accept-all, reject-all and settings buttons on the first layer', ['accept-all', 'reject-all', 'settings'].every(a => by(a) && by(a).tag === 'BUTTON'), b.map(x => x.a).join(','));
  const [A, R, S] = [by('accept-all'), by('reject-all'), by('settings')];
  const same = (x, y) => x && y && x.h === y.h && x.ff === y.ff && x.fs === y.fs && x.fw === y.fw && x.color === y.color && x.bg === y.bg && x.border === y.border;
  check('T3/T4 reject-all has the same height, font and colours as accept-all', same(A, R), JSON.stringify([A, R]));
  check('T3 settings button has the same height and font as accept-all', S && A && S.h === A.h && S.fs === A.fs && S.ff === A.ff, JSON.stringify(S));
  check('T2 no category pre-checked in settings', await (async () => {
    await page.click(act('settings'));
    await page.waitForSelector(`${DLG} .cg-l2:not([hidden])`);
    return page.$$eval(`${DLG} input[data-consent-category]`, els => els.every(e => e.disabled || !e.checked));
  })());
  await shot(page, 'settings');
  await ctx.close();
});

await step('L4 reject all', async () => {
  const { ctx, page, tr } = await open('/');
  await dialogShown(page);
  const r = await consentPost(page, () => page.click(act('reject-all')));
  check('L4 reject-all click records the decision (POST /_consent 200)', r.status() === 200, `${r.status()}`);
  const body = await r.json().catch(() => ({}));
  check('L4 reject-all grants only necessary', JSON.stringify(body.granted) === '["necessary"]', JSON.stringify(body.granted));
  const st = await state(page);
  check('L7 the gateway holds the decision (state: decided, method reject-all, a consent id)', st.decided === true && st.method === 'reject-all' && !!st.consent_id && st.consent_id === body.consent_id, JSON.stringify({ decided: st.decided, method: st.method, id: st.consent_id }));
  await settle(page);
  let names = await jar(ctx);
  check('L1 after reject-all: jar holds only necessary + the consent cookie', names.includes('cg_consent') && names.includes('session') && !names.some(n => NONNECESSARY.test(n)), names.join(','));
  check('L1 after reject-all: no tracker request', tr.length === 0, tr.map(x => x.url).join(' '));
  await page.goto(`${base}/side2.html`);
  await settle(page);
  await sleep(300);
  check('L4 next page: the banner does not ask again', !(await dialogShown(page, 800)));
  check('T7 next page: a re-open button (.cg-reopen) is present and visible', await page.isVisible('.cg-reopen'));
  names = await jar(ctx);
  check('L1 next page after reject-all: still no tracker request and no tracker cookie', tr.length === 0 && !names.some(n => NONNECESSARY.test(n)), `${tr.map(x => x.url)} ${names}`);
  // The held YouTube embed with its placeholder, as a visitor who refused sees it.
  await page.$eval('.cg-placeholder', p => p.scrollIntoView({ block: 'center' }));
  await shot(page, 'placeholder');
  await ctx.close();
});

await step('accept all', async () => {
  const { ctx, page, tr } = await open('/');
  await dialogShown(page);
  const t1 = Date.now();
  const r = await consentPost(page, () => page.click(act('accept-all')));
  check('accept-all click records the decision (POST /_consent 200)', r.status() === 200, `${r.status()}`);
  await until(async () => ['gtag', 'gtm', 'fbevents', 'hotjar', 'youtube'].every(k => kinds(tr).includes(k)), 5000);
  await settle(page);
  const k = kinds(tr, t1);
  check('accept-all: GA, GTM, Meta, Hotjar, YouTube stubs requested without a reload', ['gtag', 'gtm', 'fbevents', 'hotjar', 'youtube'].every(x => k.includes(x)), k.join(','));
  const names = await until(async () => { const n = await jar(ctx); return ['_ga', '_ga_TEST', '_fbp'].every(x => n.includes(x)) && n; }, 3000) || await jar(ctx);
  check('accept-all: _ga, _ga_TEST, _fbp in the cookie jar', ['_ga', '_ga_TEST', '_fbp'].every(x => names.includes(x)), names.join(','));
  check('accept-all: the YouTube iframe got its src', /youtube\.com\/embed\/xyz/.test(await page.$eval('iframe[title="YouTube video player"]', f => f.getAttribute('src') || '')));
  check('accept-all: the site\'s own text/plain analytics script ran', await until(() => page.evaluate(() => window.__siteAnalytics === true), 2000));
  check('accept-all: no placeholder left', (await page.$$('.cg-placeholder')).length === 0);
  check('no request to an unknown external host', other(tr).length === 0, other(tr).join(' '));
  // Next page: trackers delivered unchanged by the server.
  const raw = await (await ctx.request.get(`${base}/side2.html`)).text();
  check('accept-all: the next page has the original tracker markup (no hold-back)',
    raw.includes('<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST"></script>') &&
    raw.includes('<iframe width="560" height="315" src="https://www.youtube.com/embed/xyz"') && !/data-consent-src/.test(raw),
    (raw.match(/<script[^>]*googletagmanager[^>]*>/) || [''])[0]);
  const t2 = Date.now();
  await page.goto(`${base}/side2.html`);
  await settle(page);
  check('accept-all: the next page loads the trackers at once', ['gtag', 'gtm', 'fbevents', 'hotjar'].every(x => kinds(tr, t2).includes(x)), kinds(tr, t2).join(','));
  const up = siteLog.filter(x => x.path === '/side2.html').pop();
  check('accept-all: upstream sees all categories granted', up && ['necessary', 'preferences', 'analytics', 'marketing'].every(c => up.categories.includes(c)), up && up.categories);
  await ctx.close();
});

await step('L5 granular', async () => {
  const { ctx, page, tr } = await open('/');
  await dialogShown(page);
  await page.click(act('settings'));
  await page.check(`${DLG} input[data-consent-category="analytics"]`);
  const r = await consentPost(page, () => page.click(act('save')));
  const body = await r.json().catch(() => ({}));
  check('L5 save with analytics only grants necessary+analytics', r.status() === 200 && JSON.stringify(body.granted) === '["necessary","analytics"]', JSON.stringify(body));
  await until(async () => ['gtag', 'gtm', 'hotjar'].every(k => kinds(tr).includes(k)), 4000);
  await settle(page);
  const k = kinds(tr);
  check('L5 GA, GTM and Hotjar requested; Meta and YouTube not', ['gtag', 'gtm', 'hotjar'].every(x => k.includes(x)) && !MARKETING.some(x => k.includes(x)), k.join(','));
  const names = await jar(ctx);
  check('L5 _fbp absent, _ga present', !names.includes('_fbp') && names.includes('_ga'), names.join(','));
  await ctx.close();
});

async function withdrawal(how) {
  const { ctx, page, tr } = await open(how === 'link' ? '/en.html' : '/');
  await dialogShown(page);
  await consentPost(page, () => page.click(act('accept-all')));
  await until(async () => kinds(tr).includes('hotjar') && kinds(tr).includes('gtag'), 4000);
  await settle(page);
  // A page after consent: the server's HttpOnly analytics cookie passes now.
  await page.goto(`${base}/side2.html`);
  await settle(page);
  await until(() => page.evaluate(() => localStorage.getItem('_hjid') === 'hj-1'), 2000);
  let names = await jar(ctx);
  check(`L6 (${how}) before withdrawal: _ga, _ga_TEST, _ga_SRV (HttpOnly), _hjSessionUser_1 set`, ['_ga', '_ga_TEST', '_ga_SRV', '_hjSessionUser_1'].every(x => names.includes(x)), names.join(','));
  if (how === 'link') await page.click('a[data-consent-open]');
  else await page.click('.cg-reopen');
  await page.waitForSelector(`${DLG} .cg-l2:not([hidden])`, { timeout: 4000 });
  check(`L6 (${how}) the re-opened settings show analytics checked`, await page.isChecked(`${DLG} input[data-consent-category="analytics"]`));
  await page.uncheck(`${DLG} input[data-consent-category="analytics"]`);
  const tw = Date.now();
  const [r] = await Promise.all([
    consentPost(page, () => page.click(act('save'))),
    page.waitForEvent('load', { timeout: 6000 }),
  ]);
  const st = await state(page);
  check(`L6/L7 (${how}) withdrawal recorded (200, method withdraw, analytics no longer granted) and the page reloaded`,
    r.status() === 200 && st.method === 'withdraw' && !st.granted.includes('analytics') && st.granted.includes('marketing'), `${r.status()} ${JSON.stringify({ method: st.method, granted: st.granted })}`);
  const setc = (await r.headersArray()).filter(h => h.name.toLowerCase() === 'set-cookie').map(h => h.value.split(';')[0]);
  check(`T7 (${how}) the withdrawal answer expires _ga_SRV (HttpOnly) in the same response`, setc.some(v => /^_ga_SRV=/.test(v)), setc.join(' | '));
  await settle(page);
  names = await jar(ctx);
  const gone = ['_ga', '_ga_TEST', '_ga_SRV', '_hjSessionUser_1'];
  check(`L6 (${how}) after withdrawal: _ga, _ga_TEST, _ga_SRV, _hjSessionUser_1 gone`, !names.some(n => gone.includes(n)), names.join(','));
  check(`L6/N4 (${how}) after withdrawal: localStorage _hjid gone`, await page.evaluate(() => localStorage.getItem('_hjid') === null));
  await page.goto(`${base}/index.html`);
  await settle(page);
  await sleep(200);
  names = await jar(ctx);
  const after = kinds(tr, tw).filter(k => ANALYTICS.includes(k));
  check(`L6 (${how}) next page: analytics cookies stay gone and no analytics tracker requested`, !names.some(n => gone.includes(n)) && after.length === 0, `${names} | ${after}`);
  check(`L6 (${how}) marketing stays granted: Meta still loads`, kinds(tr, tw).includes('fbevents'), kinds(tr, tw).join(','));
  await ctx.close();
}
await step('L6 withdrawal via .cg-reopen', () => withdrawal('reopen'));
await step('L6 withdrawal via data-consent-open link', () => withdrawal('link'));

await step('A2/T1 keyboard only', async () => {
  const { ctx, page } = await open('/');
  await dialogShown(page);
  await page.waitForFunction(() => document.activeElement && document.activeElement.closest('.cg-dlg'), null, { timeout: 3000 }).catch(() => {});
  check('A2 focus moves into the dialog', await page.evaluate(() => !!document.activeElement.closest('.cg-dlg')));
  const trail = [];
  let inside = true, onReject = false, wrapped = false;
  for (let i = 0; i < 40 && !(onReject && wrapped); i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => ({ inDlg: !!document.activeElement.closest('.cg-dlg'), act: document.activeElement.getAttribute('data-consent-action') || '', tag: document.activeElement.tagName }));
    trail.push(f.act || f.tag);
    if (!f.inDlg) inside = false;
    if (f.act === 'settings') wrapped = true;  // the last control: the next Tab wraps
    onReject = f.act === 'reject-all';
  }
  check('A2 Tab never leaves the dialog (also when wrapping past the last control)', inside && wrapped, trail.join(' > '));
  check('T1 reject-all reachable by Tab', onReject, trail.join(' > '));
  if (onReject) {
    const r = await consentPost(page, () => page.keyboard.press('Enter'));
    check('N1/T1 Enter on reject-all records the decision', r.status() === 200 && (await state(page)).decided === true, `${r.status()}`);
    check('A2 focus returns to the page (re-open button) after the choice', await until(() => page.evaluate(() => !document.activeElement.closest('.cg-dlg')), 2000));
  }
  await ctx.close();
});

await step('A4 languages', async () => {
  for (const [path, lang, title] of [['/', 'nb', 'Vi bruker informasjonskapsler'], ['/nn.html', 'nn', 'Vi brukar informasjonskapslar'], ['/en.html', 'en', 'We use cookies']]) {
    const { ctx, page } = await open(path);
    await dialogShown(page);
    const t = await page.$eval(`${DLG} #cg-title`, e => e.textContent.trim()).catch(() => '');
    const l = await page.$eval(DLG, e => e.getAttribute('lang')).catch(() => '');
    check(`A4 ${lang} page shows "${title}" with lang=${lang}`, t === title && l === lang, `${t} lang=${l}`);
    if (lang === 'en') await shot(page, 'en');
    await ctx.close();
  }
});

await step('A3 320 px', async () => {
  const { ctx, page } = await open('/', { viewport: { width: 320, height: 640 } });
  await dialogShown(page);
  await settle(page);
  const sw = await page.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth));
  check('A3 320 px: no horizontal scroll', sw <= 320, `scrollWidth=${sw}`);
  const vis = await page.$$eval(`${DLG} .cg-l1 [data-consent-action]`, els => els.map(e => { const r = e.getBoundingClientRect(); return r.width >= 24 && r.height >= 24 && r.left >= 0 && r.right <= 320 && r.top >= 0 && r.bottom <= innerHeight; }));
  check('A3/A5 320 px: the three buttons are visible, inside the viewport and at least 24x24', vis.length === 3 && vis.every(Boolean), JSON.stringify(vis));
  await shot(page, '320');
  await ctx.close();
});

await step('dark scheme screenshot', async () => {
  const { ctx, page } = await open('/', { colorScheme: 'dark' });
  await dialogShown(page);
  await shot(page, 'dark');
  await ctx.close();
});

await step('L9 Sec-GPC', async () => {
  const { ctx, page, tr } = await open('/', { extraHTTPHeaders: { 'Sec-GPC': '1' } });
  await dialogShown(page);
  const s = await state(page);
  check('L9 GPC without a decision: /_consent/state reports marketing refused, not undecided', s.gpc === true && s.refused.includes('marketing') && !s.undecided.includes('marketing'), JSON.stringify({ gpc: s.gpc, refused: s.refused, undecided: s.undecided }));
  check('L9 the banner tells the visitor GPC is a refusal of marketing', await page.$eval(DLG, d => /Global Privacy Control/.test(d.textContent)).catch(() => false));
  check('L9 no tracker request before a choice with GPC', tr.length === 0, tr.map(x => x.url).join(' '));
  const r = await consentPost(page, () => page.click(act('accept-all')));
  const body = await r.json().catch(() => ({}));
  await until(async () => ['gtag', 'gtm', 'hotjar'].every(k => kinds(tr).includes(k)), 5000);
  await settle(page);
  await sleep(300);
  check('L9 accept-all with Sec-GPC: no Meta/YouTube request (GPC honoured as a refusal of marketing)', !MARKETING.some(k => kinds(tr).includes(k)),
    `granted=${JSON.stringify(body.granted)} requested=${kinds(tr).join(',')}`);
  check('L9 accept-all with Sec-GPC: analytics loads', ['gtag', 'gtm', 'hotjar'].every(k => kinds(tr).includes(k)), kinds(tr).join(','));
  await ctx.close();
});

await step('L1 tampered consent cookie', async () => {
  const { ctx, page, tr } = await open('/');
  await dialogShown(page);
  await consentPost(page, () => page.click(act('accept-all')));
  // Let the activation chain finish: the old document keeps running until the next one commits.
  await until(async () => ['gtag', 'gtm', 'fbevents', 'hotjar', 'youtube'].every(k => kinds(tr).includes(k)), 5000);
  await settle(page);
  const c = (await ctx.cookies(base)).find(x => x.name === 'cg_consent');
  const i = Math.floor(c.value.length / 2);
  const flipped = c.value.slice(0, i) + (c.value[i] === 'A' ? 'B' : 'A') + c.value.slice(i + 1);
  await ctx.clearCookies();
  await ctx.addCookies([{ ...c, value: flipped }]);
  const t = Date.now();
  await page.goto(`${base}/side2.html`);
  check('L1 tampered consent cookie: the banner asks again', await dialogShown(page));
  await settle(page);
  const raw = await (await ctx.request.get(`${base}/side2.html`)).text();
  const tags = (raw.match(/<script[^>]*>(?=[^<]{0,400}(fbevents|hotjar-|gtm\.js))/g) || []).join(' ');
  check('L1 tampered consent cookie: trackers are held', kinds(tr, t).length === 0, `requested: ${kinds(tr, t).join(',')}; cookie ${c.value} -> ${flipped}; script tags before the inline snippets in a fresh GET: ${tags}`);
  check('L1 tampered consent cookie: /_consent/state says undecided', (await state(page)).decided === false);
  await ctx.close();
});

await step('strict nonce CSP page', async () => {
  const { ctx, page, tr } = await open('/csp.html');
  check('CSP page: the banner shows', await dialogShown(page));
  check('CSP page: the page\'s own nonce script ran', await page.evaluate(() => window.__ownScript === true));
  check('CSP page: no tracker request before a choice', tr.length === 0, tr.map(x => x.url).join(' '));
  await consentPost(page, () => page.click(act('accept-all')));
  await until(async () => ['gtag', 'gtm', 'fbevents', 'hotjar'].every(k => kinds(tr).includes(k)), 5000);
  await settle(page);
  check('CSP page: after accept-all the held scripts run', ['gtag', 'gtm', 'fbevents', 'hotjar'].every(k => kinds(tr).includes(k)) &&
    await page.evaluate(() => window.__siteAnalytics === true && window.__gtagLoaded === true), kinds(tr).join(','));
  const v = await page.evaluate(() => window.__csp);
  check('CSP page: no securitypolicyviolation event', v.length === 0, v.join(' | '));
  await ctx.close();
});

await step('gzip page', async () => {
  const { ctx, page } = await open(null);
  const resp = await page.goto(`${base}/gzip.html`);
  check('gzip: the response is gzip-encoded', (resp.headers()['content-encoding'] || '') === 'gzip', JSON.stringify(resp.headers()['content-encoding']));
  check('gzip: the banner shows (injected through gzip)', await dialogShown(page));
  check('gzip: the whole page arrived (no length mismatch)', await page.$$eval('main p', ps => ps.length === 200) && await page.isVisible('#end'));
  // The raw bytes: a Content-Length (if any) equals the body, which is one valid gzip stream holding the banner.
  const raw = await new Promise((res, rej) => {
    const rq = http.get(`${base}/gzip.html`, { headers: { 'Accept-Encoding': 'gzip' }, timeout: 5000 }, r => {
      const parts = [];
      r.on('data', d => parts.push(d));
      r.on('end', () => res({ headers: r.headers, body: Buffer.concat(parts) }));
      r.on('error', rej);
    });
    rq.on('timeout', () => rq.destroy(new Error('timeout')));
    rq.on('error', rej);
  });
  let html = '';
  try { html = zlib.gunzipSync(raw.body).toString('utf8'); } catch (e) { html = `gunzip failed: ${e.message}`; }
  const cl = raw.headers['content-length'];
  check('gzip: raw answer is gzip, Content-Length matches, the body holds the banner script and the held gtag',
    raw.headers['content-encoding'] === 'gzip' && (cl === undefined || Number(cl) === raw.body.length) &&
    html.includes('id="cg-banner-script"') && /<script type="text\/plain"[^>]*data-consent-src="https:\/\/www\.googletagmanager\.com\/gtag/.test(html) && html.includes('<p id="end">'),
    `content-length=${cl} body=${raw.body.length} ${html.slice(0, 60)}`);
  await ctx.close();
});

await step('page without head', async () => {
  const { ctx, page, tr } = await open('/nohead.html');
  check('no <head>: the banner shows', await dialogShown(page));
  check('no <head>: the gtag script is held', tr.length === 0, tr.map(x => x.url).join(' '));
  await ctx.close();
});

await step('L11 rights from the banner', async () => {
  const { ctx, page } = await open('/');
  await dialogShown(page);
  const r = await consentPost(page, () => page.click(act('reject-all')));
  const id = (await r.json()).consent_id;
  await page.click('.cg-reopen');
  await page.waitForSelector(`${DLG} .cg-l2:not([hidden])`);
  const shown = await until(() => page.$eval(`${DLG} .cg-id`, e => !e.hidden && e.textContent).catch(() => ''), 3000);
  check('L11 settings show the consent id', !!id && String(shown).includes(id), `${shown} vs ${id}`);
  const rec = await page.evaluate(async () => {
    const a = document.querySelector('.cg-dlg a[download][href*="/_consent/record"]');
    if (!a) return { status: 0 };
    const res = await fetch(a.href);
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  });
  let recOk = false;
  try { recOk = rec.status === 200 && /json/.test(rec.type) && JSON.stringify(JSON.parse(rec.text)).includes(id); } catch { /* not json */ }
  check('L11 the download link fetches /_consent/record (200 JSON with the id)', recOk, `${rec.status} ${rec.type} ${String(rec.text).slice(0, 120)}`);
  await page.click(`${DLG} [data-consent-action="delete"]`);
  const [del] = await Promise.all([
    page.waitForResponse(r => new URL(r.url()).pathname === '/_consent/record' && r.request().method() === 'DELETE', { timeout: 5000 }),
    page.click(`${DLG} [data-consent-action="delete-confirm"]`),
  ]);
  check('L11 delete + confirm sends DELETE /_consent/record (200)', del.status() === 200, `${del.status()}`);
  await page.waitForEvent('load', { timeout: 5000 }).catch(() => {});
  check('L11 after erasure the banner asks again', await dialogShown(page));
  const s = await state(page);
  check('L11 after erasure the visitor is undecided', s.decided === false && !s.consent_id, JSON.stringify({ decided: s.decided, id: s.consent_id }));
  await ctx.close();
});

await step('declaration', async () => {
  const h = await fetch(`${base}/_consent/declaration`, { signal: AbortSignal.timeout(5000) });
  const html = await h.text();
  check('L2 /_consent/declaration (HTML) lists _ga and Testfirma AS', h.status === 200 && /text\/html/.test(h.headers.get('content-type')) && html.includes('_ga') && html.includes('Testfirma AS'), `${h.status} ${h.headers.get('content-type')}`);
  const j = await fetch(`${base}/_consent/declaration`, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
  let ok = false, txt = await j.text();
  try { const d = JSON.parse(txt); ok = j.status === 200 && JSON.stringify(d).includes('_ga') && JSON.stringify(d).includes('Testfirma AS'); } catch { /* not json */ }
  check('L2 /_consent/declaration with Accept: application/json returns JSON', ok, `${j.status} ${j.headers.get('content-type')} ${txt.slice(0, 80)}`);
});

async function noscript(action) {
  const { ctx, page, tr } = await open('/', { javaScriptEnabled: false });
  await settle(page);
  if (action === 'reject-all') {
    check('N4 no JS: no tracker request before a choice (noscript GTM iframe and Meta pixel held)', tr.length === 0, tr.map(x => x.url).join(' '));
    check('N1 no JS: the form.cg-noscript is visible', await page.isVisible('form.cg-noscript'));
    await shot(page, 'nojs');
  }
  const [post] = await Promise.all([
    page.waitForResponse(r => new URL(r.url()).pathname === '/_consent' && r.request().method() === 'POST', { timeout: 6000 }),
    page.click(`form.cg-noscript button[name="action"][value="${action}"]`),
  ]);
  await page.waitForLoadState('load');
  await settle(page);
  const names = await jar(ctx);
  check(`N1 no JS ${action}: 303 back to the same page with a consent cookie`, post.status() === 303 && new URL(page.url()).pathname === '/' && names.includes('cg_consent'),
    `${post.status()} -> ${page.url()} ${names}`);
  if (action === 'reject-all') {
    check('N4 no JS reject-all: still no tracker request, no tracker cookie', tr.length === 0 && !names.some(n => NONNECESSARY.test(n)), `${tr.map(x => x.url)} ${names}`);
    check('no JS reject-all: the no-JS form is gone once decided', !(await page.isVisible('form.cg-noscript')));
  } else {
    const k = kinds(tr);
    check('N1 no JS accept-all: the noscript GTM iframe and Meta pixel now load', k.includes('gtm-ns') && k.includes('fb-pixel'), k.join(','));
  }
  await ctx.close();
}
await step('N1/N4 no JavaScript, reject-all', () => noscript('reject-all'));
await step('N1/N4 no JavaScript, accept-all', () => noscript('accept-all'));

check('gateway still running', gw.exitCode === null);
check('whole test under 150 s', Date.now() - T0 < 150000, `${Date.now() - T0} ms`);
shuttingDown = true;
await browser.close().catch(() => {});
site.close();
console.log(`${failed ? 'FAIL' : 'PASS'} e2e.banner.gateway: ${passed} passed, ${failed} failed, ${Date.now() - T0} ms`);
process.exit(failed ? 1 : 0);
