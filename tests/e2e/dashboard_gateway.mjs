// e2e.dashboard.gateway: the statistics dashboard of the real consent-gateway in Debian's
// chromium (issue 10). A redis-server, the gateway and a small website on 127.0.0.1; page views
// from many "browsers" (User-Agent and X-Forwarded-For vary) and consent decisions go through
// the gateway; then a marketing user logs in, sees the chart drawn and the figures the API
// gives, changes the range, downloads a CSV equal to the API's, cannot open admin pages, logs
// out. Users' password hashes are made at test time with `consent-gateway --hash-password`.
// Named PASS/FAIL lines; exit 1 on any failure, 77 when chromium, playwright-core, redis-server
// or the binary is missing. Screenshots: $CG_ARTIFACTS/dashboard-gateway-*.png.
// Usage: node tests/e2e/dashboard_gateway.mjs build-core/gateway/consent-gateway
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { freePort, sleep, until } from './wait.mjs';

const SKIP = 77;
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = resolve(process.env.CG_ARTIFACTS || 'build-e2e-artifacts');
const binary = process.argv[2] ? resolve(process.argv[2]) : '';
const geoip = resolve('node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb');

function skip(why) { console.log(`skipped: ${why}`); process.exit(SKIP); }
if (!binary || !existsSync(binary)) skip(`no consent-gateway binary (${binary || 'none given'})`);
if (!existsSync(chromiumPath)) skip(`no chromium at ${chromiumPath} (apt-get install chromium)`);
const redisPath = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(existsSync);
if (!redisPath) skip('no redis-server (apt-get install redis-server)');
if (!existsSync(geoip)) skip('no country database (npm ci)');
let chromium;
try { ({ chromium } = await import('playwright-core')); } catch (e) { skip(`playwright-core not installed (${e.code || e.message})`); }

const tmp = mkdtempSync(join(tmpdir(), 'cg-e2e-dash-'));
const children = [];
let site = null;
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  try { rmSync(tmp, { recursive: true, force: true }); } catch { /* best effort */ }
});
process.on('unhandledRejection', e => { console.log(`FAIL e2e.dashboard.gateway unhandled: ${e && e.stack || e}`); process.exit(1); });
const hardStop = setTimeout(() => { console.log('FAIL e2e.dashboard.gateway.timeout (whole test > 150 s)'); process.exit(1); }, 150000);
hardStop.unref();

let failed = 0;
function check(name, ok, detail = '') {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  if (!ok) failed++;
  return ok;
}
function start(cmd, args) {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  c.log = '';
  const add = d => { c.log += d; if (c.log.length > 200000) c.log = c.log.slice(-100000); };
  c.stdout.on('data', add); c.stderr.on('data', add);
  children.push(c);
  return c;
}
function hashPassword(pw) {
  const r = spawnSync(binary, ['--hash-password'], { input: `${pw}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`--hash-password failed: ${r.stderr}`);
  return r.stdout.trim();
}

// ---- redis, the website, the gateway --------------------------------------------------------------
const redisSock = join(tmp, 'redis.sock');
start(redisPath, ['--port', '0', '--unixsocket', redisSock, '--unixsocketperm', '700', '--save', '', '--dir', tmp]);
if (!await until(() => existsSync(redisSock), 5000)) { console.log('FAIL redis-server did not start'); process.exit(1); }

const PAGES = ['/', '/tjenester', '/om-oss', '/kontakt', '/jobb/17', '/jobb/42'];
site = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (!PAGES.includes(path) && path !== '/rare') { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('no'); return; }
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(`<!DOCTYPE html><html lang="nb"><head><title>${path}</title></head><body><h1>${path}</h1></body></html>`);
});
await new Promise(r => site.listen(0, '127.0.0.1', r));
const [port, adminPort] = [await freePort(), await freePort()];
const keyFile = join(tmp, 'consent.key');
writeFileSync(keyFile, randomBytes(48).toString('base64') + '\n', { mode: 0o600 });
const adminToken = randomBytes(24).toString('hex');
const config = {
  listen: { address: '127.0.0.1', port },
  admin: {
    address: '127.0.0.1', port: adminPort, token: adminToken,
    users: [
      { name: 'marit', role: 'marketing', password_hash: hashPassword('marketing-pass-1') },
      { name: 'ola', role: 'admin', password_hash: hashPassword('admin-pass-1') },
    ],
  },
  workers: 2,
  trusted_proxies: ['127.0.0.1/32'],
  log: { level: 'info', access: true },
  redis: { socket: redisSock },
  analytics: { geoip_db: geoip, flush_interval_ms: 200 },
  consent: { key_file: keyFile, journal: { path: join(tmp, 'journal.jsonl') } },
  sites: [{
    name: 'shop', hosts: ['127.0.0.1'], upstream: `http://127.0.0.1:${site.address().port}`,
    analytics: { time_zone: 'Europe/Oslo', path_rules: ['/jobb/:id'] },
  }],
};
const configFile = join(tmp, 'gateway.json');
writeFileSync(configFile, JSON.stringify(config, null, 2));
const gw = start(binary, [configFile]);
const ready = await until(async () => {
  try { return (await fetch(`http://127.0.0.1:${adminPort}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200; } catch { return false; }
}, 15000, 100);
if (!check('gateway: /readyz answers 200', ready)) { console.log(gw.log.slice(-3000)); process.exit(1); }
const api = async (report, query = '') => {
  const r = await fetch(`http://127.0.0.1:${adminPort}/stats/api/${report}?site=shop${query}`,
    { headers: { Authorization: `Bearer ${adminToken}` } });
  return { status: r.status, text: await r.text() };
};

// ---- traffic: 40 "browsers" from Norway, Sweden and the US, one rare page, decisions -----------
const UAS = i => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.${i}.0 Safari/537.36`;
const IPS = ['46.212.10.', '81.166.20.', '78.70.30.', '8.8.8.'];
async function view(path, i, extra = {}) {
  return fetch(`http://127.0.0.1:${port}${path}`, {
    headers: {
      'User-Agent': UAS(i), Accept: 'text/html,*/*;q=0.8', 'Sec-Fetch-Dest': 'document', 'Accept-Language': 'nb-NO,nb;q=0.9',
      'X-Forwarded-For': `${IPS[i % IPS.length]}${10 + i}`, ...extra,
    },
  }).then(r => r.status);
}
// The User-Agent database loads at the first would-be page view: wait until one is counted.
await until(async () => {
  await view('/', 1000);
  const m = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`, { headers: { Authorization: `Bearer ${adminToken}` } })).text();
  return /cg_analytics_page_views_total\{site="shop"\} [1-9]/.test(m);
}, 20000, 200);
let sent = 0;
for (let i = 0; i < 40; i++) {
  for (const p of PAGES.slice(0, 2 + (i % 4))) { await view(i % 5 === 0 ? `${p}?utm_source=nyhetsbrev&utm_campaign=jul&gclid=x` : p, i, i % 3 ? { Referer: 'https://www.google.no/' } : {}); sent++; }
}
await view('/rare', 999);
for (let i = 0; i < 12; i++) {
  await fetch(`http://127.0.0.1:${port}/_consent`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Origin: `http://127.0.0.1:${port}`, 'X-Forwarded-For': `46.212.99.${i + 1}` },
    body: JSON.stringify(i % 3 === 0 ? { action: 'reject-all' } : { action: 'accept-all' }),
  });
}
const counted = await until(async () => {
  const s = await api('summary');
  return s.status === 200 && JSON.parse(s.text).page_views >= sent + 2 ? JSON.parse(s.text) : null;
}, 15000, 200);
check('api: every page view reached Redis and the summary', !!counted, counted ? `${counted.page_views} page views` : 'timeout');
const pagesJson = JSON.parse((await api('pages')).text);
check('api: C13 the page one visitor saw is never named', !JSON.stringify(pagesJson).includes('/rare'));
check('api: path rules collapse ids', pagesJson.rows.some(r => r.name === '/jobb/:id'));
const countries = JSON.parse((await api('countries')).text);
check('api: countries from the GeoIP database', countries.rows.some(r => r.name === 'NO'), JSON.stringify(countries.rows.map(r => r.name)));
const consent = await until(async () => {
  const c = JSON.parse((await api('consent')).text);
  return c.totals.accept_all + c.totals.reject_all >= 12 ? c : null;
}, 10000, 200) || JSON.parse((await api('consent')).text);
check('api: consent decisions counted', consent.totals.accept_all === 8 && consent.totals.reject_all === 4, JSON.stringify(consent.totals));

// ---- the dashboard in chromium --------------------------------------------------------------------
mkdirSync(artifacts, { recursive: true });
const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
const errors = [];
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'nb-NO', acceptDownloads: true });
const page = await ctx.newPage();
page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
page.on('pageerror', e => errors.push(String(e)));
const admin = `http://127.0.0.1:${adminPort}`;

await page.goto(`${admin}/stats/`);
check('login: the dashboard sends a browser without a session to /login', page.url().startsWith(`${admin}/login`), page.url());
await page.fill('input[name=username]', 'marit');
await page.fill('input[name=password]', 'wrong');
await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
check('login: a wrong password is refused', page.url().startsWith(`${admin}/login`));
await page.fill('input[name=username]', 'marit');
await page.fill('input[name=password]', 'marketing-pass-1');
await Promise.all([page.waitForURL(`${admin}/stats/**`), page.click('button[type=submit]')]);
errors.length = 0;  // the wrong password's 401 above was expected
check('login: marketing lands on the dashboard', page.url().startsWith(`${admin}/stats/`), page.url());
const cookies = await ctx.cookies();
const session = cookies.find(c => c.name === 'cg_admin');
check('login: session cookie HttpOnly and SameSite=Strict', !!session && session.httpOnly && session.sameSite === 'Strict');

await page.waitForSelector('canvas', { timeout: 10000 });
await sleep(1000);
const drawn = await page.evaluate(() => {
  const c = document.querySelector('canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
  return ink;
});
check('dashboard: the chart is drawn', drawn > 500, `${drawn} pixels`);
const bodyText = await page.locator('body').innerText();
check('dashboard: shows the page views the API gives', bodyText.replace(/\s/g, '').includes(String(counted ? counted.page_views : -1)));
check('dashboard: Norwegian for an nb browser', /Sidevisninger/.test(bodyText));
await page.screenshot({ path: join(artifacts, 'dashboard-gateway-nb.png'), fullPage: true });

// A range change: the page asks the API for the new range.
const asked = [];
page.on('request', r => { if (r.url().includes('/stats/api/')) asked.push(r.url()); });
const range = page.locator('select').filter({ has: page.locator('option[value="7d"]') }).first();
await range.selectOption('7d');
await until(() => asked.some(u => u.includes('from=')), 5000);
check('dashboard: changing the range asks for the new dates', asked.some(u => /from=\d{4}-\d{2}-\d{2}/.test(u)), asked[0] || 'none');

// CSV: the download equals the API's CSV.
const csvLink = page.locator('a[href*="format=csv"]').first();
const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), csvLink.click()]);
const file = join(tmp, 'dl.csv');
await download.saveAs(file);
const href = await csvLink.getAttribute('href');
const direct = await (await fetch(new URL(href, `${admin}/stats/`), { headers: { Authorization: `Bearer ${adminToken}` } })).text();
check('dashboard: the CSV download equals the API\'s CSV', readFileSync(file, 'utf8') === direct && direct.startsWith('name,visitors'), href);

// Roles: marketing reaches the statistics only.
for (const path of ['/metrics', '/privacy/evidence', '/consent/counts']) {
  const r = await page.request.get(`${admin}${path}`, { maxRedirects: 0 });
  check(`roles: marketing gets 403 on ${path}`, r.status() === 403, String(r.status()));
}
const evidence = await fetch(`${admin}/privacy/evidence`, { headers: { Authorization: `Bearer ${adminToken}` } });
check('evidence: the bearer token reads /privacy/evidence', evidence.status === 200 && (await evidence.json()).sites[0].analytics.k === 5);

// 320 px and English.
const small = await browser.newContext({ viewport: { width: 320, height: 800 }, locale: 'en-GB', storageState: await ctx.storageState() });
const sp = await small.newPage();
sp.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
await sp.goto(`${admin}/stats/?site=shop`);
await sp.waitForSelector('canvas', { timeout: 10000 });
await sleep(800);
const scroll = await sp.evaluate(() => document.documentElement.scrollWidth);
check('dashboard: 320 px without horizontal scrolling', scroll <= 320, `${scroll}px`);
check('dashboard: English for an en browser', /Page views|Visitors/.test(await sp.locator('body').innerText()));
await sp.screenshot({ path: join(artifacts, 'dashboard-gateway-320-en.png'), fullPage: true });
await small.close();

// Log-out ends the session.
await Promise.all([page.waitForLoadState('load'), page.locator('form[action="/logout"] button').click()]);
await page.waitForLoadState('load');
check('logout: back on the log-in page', page.url().startsWith(`${admin}/login`), `${page.url()}: ${(await page.locator('body').innerText()).slice(0, 80)}`);
const after = await page.request.get(`${admin}/stats/api/summary?site=shop`, { maxRedirects: 0 });
check('logout: the old session no longer opens the API', after.status() === 401 || after.status() === 303, String(after.status()));
check('dashboard: no console errors or CSP violations', errors.length === 0, errors.slice(0, 3).join(' | '));
await browser.close();

// Nothing identifying anywhere in Redis: no address, no User-Agent, no click id.
const dump = spawnSync('redis-cli', ['-s', redisSock, '--no-raw', 'KEYS', '*'], { encoding: 'utf8' });
if (dump.status === 0) {
  check('redis: no address, User-Agent or click id in any key', !/46\.212|Mozilla|gclid/.test(dump.stdout));
}
check('logs: no address, User-Agent or click id in the gateway\'s log (access log on)',
  gw.log.includes('"path"') && !/46\.212|81\.166|Mozilla|gclid/.test(gw.log));
site.close();
console.log(failed ? `e2e.dashboard.gateway: ${failed} FAILED` : 'e2e.dashboard.gateway: all passed');
process.exit(failed ? 1 : 0);
