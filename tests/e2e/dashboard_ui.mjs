// e2e.dashboard.ui: the statistics dashboard's front end (analytics/assets/dashboard + uPlot) in
// Debian's chromium, against a mock of the statistics API (docs/stats-api.md) served from
// 127.0.0.1 with generated data: "demo" has 400 days of traffic, "quiet" has none. The mock checks
// every request against the contract (a 4xx the test did not ask for is a failure) and sends the
// CSP the gateway sends. Named PASS/FAIL lines; exit 1 on any failure, 77 when chromium or
// playwright-core is missing. Screenshots go to $CG_ARTIFACTS (default build-e2e-artifacts)/dashboard-*.png.
// Usage: node tests/e2e/dashboard_ui.mjs
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SKIP = 77;
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = resolve(process.env.CG_ARTIFACTS || 'build-e2e-artifacts');
const T0 = Date.now();

function skip(why) { console.log(`skipped: ${why}`); process.exit(SKIP); }
if (!existsSync(chromiumPath)) skip(`no chromium at ${chromiumPath} (apt-get install chromium)`);
let chromium;
try { ({ chromium } = await import('playwright-core')); } catch (e) { skip(`playwright-core not installed (${e.code || e.message})`); }
const uplotDir = join(repo, 'node_modules/uplot/dist');
if (!existsSync(join(uplotDir, 'uPlot.iife.min.js'))) skip('uplot not installed (npm ci)');

const hardStop = setTimeout(() => { console.log('FAIL e2e.dashboard_ui.timeout (whole test > 150 s)'); process.exit(1); }, 150000);
hardStop.unref();

// ---- generated data ------------------------------------------------------------------------------
const TODAY = '2026-12-02';
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
  + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const SITES = [
  { name: 'demo', hosts: ['www.example.no', 'example.no'], time_zone: 'Europe/Oslo', k: 5, today: TODAY },
  { name: 'quiet', hosts: ['quiet.example.no'], time_zone: 'Europe/Oslo', k: 5, today: TODAY },
];
const D = s => Date.UTC(+s.slice(0, 4), +s.slice(5, 7) - 1, +s.slice(8, 10));
const iso = ms => new Date(ms).toISOString().slice(0, 10);
const add = (s, n) => iso(D(s) + n * 864e5);
const ndays = (a, b) => Math.round((D(b) - D(a)) / 864e5) + 1;
const hash = s => { let h = 2166136261; for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619); return (h >>> 0) / 4294967296; };
const FIRST = add(TODAY, -399);          // the busy site has data for 400 days
const DROPPED_DAY = '2026-11-20';         // a day whose breakdowns were partly lost
function day(site, d) {
  if (site !== 'demo' || d < FIRST || d > TODAY) return { visitors: 0, page_views: 0, visits: 0, bounces: 0, dur: 0 };
  const i = ndays(FIRST, d), wd = new Date(D(d)).getUTCDay();
  const visitors = Math.round((220 + i * 0.6) * (wd === 0 || wd === 6 ? 0.62 : 1) * (0.85 + 0.3 * hash(d)));
  const visits = Math.round(visitors * 1.22), page_views = Math.round(visits * (2.6 + 0.6 * hash(d + 'p')));
  return { visitors, page_views, visits, bounces: Math.round(visits * (0.36 + 0.1 * hash(d + 'b'))), dur: visits * Math.round(80 + 40 * hash(d + 'd')) };
}
const daysOf = (a, b) => Array.from({ length: ndays(a, b) }, (_, i) => add(a, i));
function totals(site, a, b) {
  const t = { visitors: 0, page_views: 0, visits: 0, bounces: 0, dur: 0 };
  for (const d of daysOf(a, b)) for (const [k, v] of Object.entries(day(site, d))) t[k] += v;
  return {
    visitors: t.visitors, page_views: t.page_views, anonymous_page_views: Math.round(t.page_views * 0.02), visits: t.visits,
    bounce_rate: t.visits ? Math.round((t.bounces / t.visits) * 1e4) / 1e4 : null,
    pages_per_visit: t.visits ? Math.round((t.page_views / t.visits) * 100) / 100 : null,
    visit_duration_s: t.visits ? Math.round(t.dur / t.visits) : null,
  };
}
const prevOf = (a, b) => { const n = ndays(a, b); return [add(a, -n), add(a, -1)]; };
function summary(site, a, b) {
  const [pa, pb] = prevOf(a, b);
  return { site, from: a, to: b, time_zone: 'Europe/Oslo', k: 5, ...totals(site, a, b),
    visitors_kind: a === b ? 'daily' : 'sum_of_daily', visitors_error: 0.0081,
    dropped: site === 'demo' && a <= DROPPED_DAY && DROPPED_DAY <= b ? 17 : 0,
    previous: { from: pa, to: pb, ...totals(site, pa, pb) } };
}
const HOURS = [1, 1, 0, 0, 0, 1, 2, 4, 6, 7, 7, 6, 6, 6, 6, 6, 5, 5, 5, 6, 6, 5, 3, 2];
function timeseries(site, a, b) {
  if (a === b) {
    const d = day(site, a);
    return { interval: 'hour', points: HOURS.map((w, h) => ({ t: `${a}T${String(h).padStart(2, '0')}`,
      visitors: Math.round((d.visitors * w) / 70), page_views: Math.round((d.page_views * w) / 70) })) };
  }
  return { interval: 'day', points: daysOf(a, b).map(t => { const d = day(site, t); return { t, visitors: d.visitors, page_views: d.page_views }; }) };
}
const blog = Array.from({ length: 24 }, (_, i) => [`/blog/post-${i + 1}`, 0.03 / (i + 1)]);
const DIMS = {
  pages: [['/', 0.42], ['/pricing', 0.18], ['/blog/privacy-first-analytics', 0.12], ['/docs', 0.09], ['/about', 0.05],
    ['/contact', 0.04], ['/search?q=a,b "c"', 0.021], ['/docs/install', 0.02], ...blog,
    ...Array.from({ length: 8 }, (_, i) => [`/drafts/${i + 1}`, 0.00035])],
  referrers: [['google.com', 0.3], ['duckduckgo.com', 0.08], ['news.ycombinator.com', 0.05], ['linkedin.com', 0.04],
    ['facebook.com', 0.03], ['bing.com', 0.02], ['github.com', 0.012], ['reddit.com', 0.006], ['t.co', 0.0015]],
  channels: [['direct', 0.38], ['organic search', 0.31], ['social', 0.12], ['referral', 0.09], ['email', 0.06], ['campaign', 0.04]],
  'campaigns:campaign': [['black-friday', 0.05], ['winter-sale', 0.03], ['launch-2026', 0.01], ['tiny-test', 0.0009]],
  'campaigns:source': [['newsletter', 0.05], ['facebook', 0.03], ['google', 0.01]],
  'campaigns:medium': [['email', 0.05], ['cpc', 0.025], ['social', 0.015]],
  countries: [['NO', 0.71], ['SE', 0.08], ['DK', 0.05], ['DE', 0.04], ['US', 0.04], ['GB', 0.03], ['FI', 0.02], ['NL', 0.01],
    ['PL', 0.008], ['FR', 0.006], ['ES', 0.004], ['IS', 0.0011]],
  devices: [['desktop', 0.55], ['mobile', 0.41], ['tablet', 0.04]],
  browsers: [['Chrome', 0.52], ['Safari', 0.26], ['Firefox', 0.08], ['Edge', 0.08], ['Samsung Internet', 0.04], ['Opera', 0.02]],
  os: [['Android', 0.3], ['iOS', 0.24], ['Windows', 0.24], ['macOS', 0.16], ['Linux', 0.04], ['ChromeOS', 0.002]],
};
DIMS['entry-pages'] = DIMS.pages.map(([n, w]) => [n, w * (n === '/' ? 1.3 : 0.7)]);
const TABLES = ['pages', 'entry-pages', 'referrers', 'channels', 'campaigns', 'countries', 'devices', 'browsers', 'os'];
function report(rep, site, a, b, by, limit) {
  const tot = totals(site, a, b), k = 5, two = rep === 'entry-pages' ? 'visits' : 'page_views';
  const rows = [], other = { visitors: 0, [two]: 0 };
  for (const [name, w] of DIMS[rep === 'campaigns' ? `campaigns:${by}` : rep]) {
    const visitors = Math.round(tot.visitors * w), second = Math.round(visitors * (two === 'visits' ? 1.1 : 1.4 + 2 * hash(name)));
    if (visitors >= k) rows.push({ name, visitors, [two]: second });
    else { other.visitors += visitors; other[two] += second; }
  }
  rows.sort((x, y) => y.visitors - x.visitors || y[two] - x[two] || (x.name < y.name ? -1 : 1));
  return { report: rep, site, from: a, to: b, k, visitors_kind: a === b ? 'daily' : 'sum_of_daily',
    rows: rows.slice(0, limit), other: other.visitors >= k ? other : null };
}
const csvCell = s => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
function csv(d) {
  const two = d.report === 'entry-pages' ? 'visits' : 'page_views';
  return [`name,visitors,${two}`, ...d.rows.map(r => `${csvCell(r.name)},${r.visitors},${r[two]}`),
    ...(d.other ? [`(other),${d.other.visitors},${d.other[two]}`] : [])].join('\n') + '\n';
}
function consentReport(site, a, b) {
  const days = daysOf(a, b).map(date => {
    const shown = Math.round(day(site, date).visitors * 0.55);
    const accept_all = Math.round(shown * (0.38 + 0.12 * hash(date + 'c'))), reject_all = Math.round(shown * 0.3), custom = Math.round(shown * 0.1);
    const dec = accept_all + reject_all + custom;
    return { date, shown, accept_all, reject_all, custom, gpc: Math.round(shown * 0.04),
      consent_rate: dec ? Math.round(((accept_all + custom * 0.7) / dec) * 1e4) / 1e4 : null };
  });
  const totals = { shown: 0, accept_all: 0, reject_all: 0, custom: 0, gpc: 0 };
  for (const d of days) for (const k of Object.keys(totals)) totals[k] += d[k];
  const dec = totals.accept_all + totals.reject_all + totals.custom;
  totals.consent_rate = dec ? Math.round(((totals.accept_all + totals.custom * 0.7) / dec) * 1e4) / 1e4 : null;
  const categories = dec ? [['preferences', 0.8], ['analytics', 0.6], ['marketing', 0.3]]
    .map(([name, f]) => ({ name, opt_in: totals.accept_all + Math.round(totals.custom * f) })) : [];
  return { site, from: a, to: b, days, totals, categories };
}

// ---- mock admin listener -------------------------------------------------------------------------
const mock = { fail: null, log: [], bad: [] };
const types = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', html: 'text/html; charset=utf-8' };
const ASSETS = {
  '/stats/': join(repo, 'analytics/assets/dashboard/index.html'),
  '/stats/dashboard.js': join(repo, 'analytics/assets/dashboard/dashboard.js'),
  '/stats/dashboard.css': join(repo, 'analytics/assets/dashboard/dashboard.css'),
  '/stats/uPlot.min.js': join(uplotDir, 'uPlot.iife.min.js'),
  '/stats/uPlot.min.css': join(uplotDir, 'uPlot.min.css'),
};
const send = (res, code, type, body, headers = {}) => {
  res.writeHead(code, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(body);
};
const json = (res, code, body) => send(res, code, 'application/json; charset=utf-8', JSON.stringify(body));
const isDate = s => /^\d{4}-\d{2}-\d{2}$/.test(s || '') && iso(D(s)) === s;
function api(rep, q) {
  if (rep === 'sites') return [200, { sites: SITES }];
  const known = ['summary', 'timeseries', 'consent', 'realtime', ...TABLES];
  if (!known.includes(rep)) return [404, { error: `no such report: "${rep}"` }];
  const name = q.get('site');
  if (!name) return [400, { error: 'site: required' }];
  const site = SITES.find(s => s.name === name);
  if (!site) return [404, { error: `no such site: "${name}"` }];
  if (rep === 'realtime') return [200, { site: name, visitors_last_5_min: name === 'demo' ? 3 + (mock.log.filter(l => l.rep === 'realtime').length % 2) : 0 }];
  const a = q.get('from') ?? site.today, b = q.get('to') ?? site.today;
  for (const [k, v] of [['from', a], ['to', b]]) if (!isDate(v)) return [400, { error: `${k}: not a date (YYYY-MM-DD): "${v}"` }];
  if (a > b) return [400, { error: 'from: after to' }];
  if (ndays(a, b) > 400) return [400, { error: 'range: more than 400 days' }];
  const table = TABLES.includes(rep);
  if (q.has('format') && !(table && q.get('format') === 'csv')) return [400, { error: `format: "${q.get('format')}"` }];
  if (q.has('by') && !(rep === 'campaigns' && ['source', 'medium', 'campaign'].includes(q.get('by')))) return [400, { error: `by: "${q.get('by')}"` }];
  const limit = q.has('limit') ? Number(q.get('limit')) : 100;
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) return [400, { error: `limit: "${q.get('limit')}"` }];
  const known2 = new Set(['site', 'from', 'to', 'format', 'by', 'limit']);
  for (const k of q.keys()) if (!known2.has(k)) return [400, { error: `unknown parameter: "${k}"` }];
  if (rep === 'summary') return [200, summary(name, a, b)];
  if (rep === 'timeseries') return [200, timeseries(name, a, b)];
  if (rep === 'consent') return [200, consentReport(name, a, b)];
  return [200, report(rep, name, a, b, q.get('by') || 'campaign', limit)];
}
const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x'), p = u.pathname;
  let m;
  if (ASSETS[p] && req.method === 'GET') {
    send(res, 200, types[ASSETS[p].split('.').pop()], readFileSync(ASSETS[p]));
  } else if ((m = /^\/stats\/api\/([\w-]+)$/.exec(p))) {
    const q = u.searchParams, entry = { rep: m[1], q: Object.fromEntries(q), at: Date.now() };
    mock.log.push(entry);
    if (mock.fail === 401) return json(res, 401, { error: 'not logged in' });
    if (mock.fail === 503 && m[1] !== 'sites') return json(res, 503, { error: 'statistics store unreachable' });
    const [code, body] = api(m[1], q);
    if (code !== 200) { mock.bad.push(`${code} ${req.url} ${body.error}`); return json(res, code, body); }
    if (q.get('format') === 'csv') {
      return send(res, 200, 'text/csv; charset=utf-8', csv(body), { 'Content-Disposition': `attachment; filename="${m[1]}.csv"` });
    }
    json(res, 200, body);
  } else if (p === '/login' && req.method === 'GET') {
    send(res, 200, types.html, '<!doctype html><html lang="en"><title>Log in</title><link rel="icon" href="data:,"><h1>Log in</h1></html>');
  } else if (p === '/logout' && req.method === 'POST') {
    res.writeHead(303, { Location: '/login' }); res.end();
  } else { res.writeHead(404); res.end(); }
});
await new Promise(r => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

// ---- checks --------------------------------------------------------------------------------------
let failed = 0;
function check(name, ok, detail = '') {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
  if (!ok) failed++;
}
async function step(name, fn) {
  const t0 = Date.now();
  try { await fn(); } catch (e) { check(name, false, String(e && e.message || e).split('\n')[0]); }
  if (process.env.CG_VERBOSE) console.log(`  (${name}: ${Date.now() - t0} ms)`);
}
const WAIT = { timeout: 8000 };
mkdirSync(artifacts, { recursive: true });
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
const shot = (page, name, fullPage = true) => page.screenshot({ path: join(artifacts, `dashboard-${name}.png`), fullPage });

// A context whose console errors, page errors and CSP violations are all failures (checked when it
// is closed); `expect` names console messages the scenario provokes on purpose (a 503, a 401).
async function open(path, opts = {}, expect = null) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', acceptDownloads: true, ...opts });
  ctx.setDefaultTimeout(8000);
  const page = await ctx.newPage();
  const errors = [];
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', e => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  });
  page.on('console', msg => { if (msg.type() === 'error' && !(expect && expect.test(msg.text()))) errors.push(msg.text()); });
  page.on('pageerror', e => errors.push('page error: ' + e.message));
  const close = async label => {
    const csp = await page.evaluate(() => window.__csp).catch(() => []);
    check(`no console errors or CSP violations (${label})`, !errors.length && !csp.length, [...errors, ...csp].join(' | ').slice(0, 400));
    await ctx.close();
  };
  if (path) await page.goto(base + path);
  return { ctx, page, close };
}
const ready = page => page.waitForFunction(() => document.querySelectorAll('#cards .card').length === 6
  && !document.querySelector('[aria-busy]') && !document.querySelector('.tbl .empty:only-child')?.textContent.match(/Load|Laster/), null, WAIT);
const digits = s => String(s).replace(/\D/g, '');
const cardText = page => page.$$eval('#cards .card', cs => Object.fromEntries(cs.map(c => [c.dataset.k, {
  val: c.querySelector('.val').textContent, note: null,
  chg: c.querySelector('.chg') ? [...c.querySelector('.chg').childNodes].filter(n => !n.classList?.contains('sr-only')).map(n => n.textContent).join('') : null, ...(c.querySelector('.note') ? { note: c.querySelector('.note').textContent } : {}) }])));
const mmss = s => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
function cardsMatch(c, s) {
  const bad = [];
  for (const k of ['visitors', 'page_views', 'visits']) if (digits(c[k].val) !== String(s[k])) bad.push(`${k} ${c[k].val} != ${s[k]}`);
  if (digits(c.bounce_rate.val) !== String(Math.round(s.bounce_rate * 100))) bad.push(`bounce ${c.bounce_rate.val} != ${s.bounce_rate}`);
  if (c.visit_duration_s.val !== mmss(s.visit_duration_s)) bad.push(`duration ${c.visit_duration_s.val} != ${mmss(s.visit_duration_s)}`);
  if (digits(c.pages_per_visit.val) !== digits(s.pages_per_visit.toFixed(1))) bad.push(`ppv ${c.pages_per_visit.val} != ${s.pages_per_visit}`);
  return bad;
}
// Non-transparent pixels of a chart's canvas, and a cheap fingerprint of them.
const pixels = (page, sel) => page.$eval(`${sel} canvas`, c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0, h = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i]) { n++; h = (h * 31 + d[i - 3] + d[i - 2] * 7 + i) % 1e9; }
  return { n, h, w: c.width, hgt: c.height };
});
const lastReq = rep => [...mock.log].reverse().find(l => l.rep === rep);
const waitReq = (pred, ms = 5000) => new Promise(r => {
  const t0 = Date.now();
  const tick = () => { const e = mock.log.find(pred); if (e || Date.now() - t0 > ms) r(e); else setTimeout(tick, 20); };
  tick();
});
const lum = c => {
  const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
    .map(v => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
// Text colour against the nearest opaque background, for every visible text element of the kinds given.
const contrasts = page => page.evaluate(() => {
  const bgOf = e => { for (; e; e = e.parentElement) { const b = getComputedStyle(e).backgroundColor; if (!/rgba\(.*,\s*0\)$|transparent/.test(b)) return b; } return 'rgb(255, 255, 255)'; };
  const sel = 'h1, h2, h3, .lbl, .val, .chg, .note, .period, thead th, tbody th .nm, td, .code, .csv, [role=tab], .seg button, .totals dt, .totals dd, .warn, label, .live, .empty, select, .btn';
  return [...document.querySelectorAll(sel)].filter(e => e.offsetParent && e.textContent.trim())
    .map(e => ({ sel: e.className || e.tagName, color: getComputedStyle(e).color, bg: bgOf(e), text: e.textContent.trim().slice(0, 30) }));
});
async function contrastCheck(page, label) {
  const cs = await contrasts(page);
  const low = cs.map(c => ({ ...c, r: contrast(c.color, c.bg) })).filter(c => c.r < 4.5);
  check(`text contrast >= 4.5:1 (${label}, ${cs.length} elements)`, cs.length > 20 && !low.length,
    low.slice(0, 4).map(c => `${c.sel} "${c.text}" ${c.r.toFixed(2)}`).join('; '));
}

const demo30 = [add(TODAY, -29), TODAY];

// 0. the markup needs nothing the CSP forbids ---------------------------------------------------------
{
  const html = readFileSync(ASSETS['/stats/'], 'utf8');
  const inline = [/<script(?![^>]*\ssrc=)[^>]*>/i, /<style/i, /\sstyle=/i, /\son[a-z]+=/i, /javascript:/i].filter(r => r.test(html));
  check('index.html: no inline script, <style>, style= or on*= attributes', !inline.length, inline.join(' '));
  check('index.html: relative asset URLs (the page lives at /stats/)', ['dashboard.js', 'dashboard.css', 'uPlot.min.js', 'uPlot.min.css']
    .every(f => new RegExp(`(src|href)="${f.replace('.', '\\.')}"`).test(html)));
}

// 1. first view (English), summary, chart, tables, CSV ------------------------------------------
await step('first view', async () => {
  mock.log.length = 0;
  const { page, close } = await open('/stats/');
  await ready(page);
  check('page loads in English for an en-US browser (<html lang>, heading)', await page.evaluate(() => document.documentElement.lang) === 'en'
    && await page.textContent('h1') === 'Statistics');
  const opts = await page.$$eval('#site option', os => os.map(o => o.value));
  check('site list shown from `sites`', JSON.stringify(opts) === '["demo","quiet"]', opts.join(','));
  const s = lastReq('summary');
  check('default view: demo, last 30 days of the site\'s "today"', s?.q.site === 'demo' && s.q.from === demo30[0] && s.q.to === demo30[1], JSON.stringify(s?.q));
  check('the view is in the URL', /site=demo/.test(page.url()) && /range=30d/.test(page.url()), page.url());
  const c = await cardText(page), sum = summary('demo', ...demo30);
  const bad = cardsMatch(c, sum);
  check('summary cards equal the mock\'s figures', !bad.length, bad.join('; '));
  check('sum-of-daily note with the error from visitors_error', /sum of daily visitors, ±0\.8\s?%/.test(c.visitors.note || ''), c.visitors.note);
  check('no change figures without compare', Object.values(c).every(x => x.chg === null));
  const warn = await page.locator('#dropped');
  check('dropped > 0: warning shown with the count', await warn.isVisible() && /17 page views/.test(await warn.textContent()), await warn.textContent());
  await page.locator('#live').waitFor({ state: 'visible', ...WAIT });
  check('live visitors in the last 5 minutes shown', /^[34] visitors in the last 5 minutes$/.test((await page.textContent('#live')).trim()), await page.textContent('#live'));
  const px = await pixels(page, '#chart');
  check('chart canvas drawn (non-blank pixels), sized to its container', px.n > 5000 && Math.abs(px.w / await page.evaluate(() => devicePixelRatio) - await page.$eval('#chart', e => e.clientWidth)) <= 1, JSON.stringify(px));
  const legend = await page.$$eval('#chart .u-legend .u-series', ss => ss.length);
  check('chart: visitors and page views series', legend === 3, `legend rows ${legend}`);
  const ts = lastReq('timeseries');
  check('timeseries requested for the same period', ts?.q.from === demo30[0] && ts.q.to === demo30[1]);

  // top pages: rows in the served order, first 10, then (other)
  const exp = report('pages', 'demo', ...demo30, 'campaign', 100);
  const rows = () => page.$$eval('#tp-pages tbody tr', trs => trs.map(tr => [tr.className, tr.querySelector('th').textContent, ...[...tr.querySelectorAll('td')].map(td => td.textContent)]));
  let got = await rows();
  const want = exp.rows.slice(0, 10).map(r => r.name);
  check('top pages: the first 10 rows in the served order, with their counts',
    JSON.stringify(got.slice(0, 10).map(r => r[1])) === JSON.stringify(want)
    && got.slice(0, 10).every((r, i) => digits(r[2]) === String(exp.rows[i].visitors) && digits(r[3]) === String(exp.rows[i].page_views)),
    got.slice(0, 3).map(r => r.join('/')).join(' | '));
  const other = got[got.length - 1];
  check('top pages: the (other) row, labelled, with its counts', exp.other && other[0] === 'other' && other[1] === 'Other (groups under 5 visitors)'
    && digits(other[2]) === String(exp.other.visitors), other.join('/'));
  check('table has column headers and a caption', await page.$$eval('#tp-pages table', ts => ts.every(t => t.caption && t.tHead.querySelectorAll('th[scope=col]').length === 3)));
  const barW = await page.$$eval('#tp-pages tbody .bar', bs => bs.slice(0, 2).map(b => b.getBoundingClientRect().width));
  check('rows have share bars, widest first', barW[0] > barW[1] && barW[1] > 0, barW.join(','));
  await page.click('#tp-pages button.link');
  got = await rows();
  check('"Show all" lists every served row', got.length === exp.rows.length + 1 && got[exp.rows.length - 1][1] === exp.rows[exp.rows.length - 1].name, `${got.length} rows`);

  const dlCheck = async (rep, tab) => {
    if (tab) await page.click(`#tab-${rep}`);
    const link = page.locator(`[data-rep="${rep}"] a.csv`);
    await link.waitFor({ state: 'visible', ...WAIT });
    const [dl] = await Promise.all([page.waitForEvent('download', WAIT), link.click()]);
    const text = readFileSync(await dl.path(), 'utf8');
    const byp = rep === 'campaigns' ? new URL(await link.getAttribute('href'), base + '/stats/').searchParams.get('by') : 'campaign';
    return [text === csv(report(rep, 'demo', ...demo30, byp, 100)), dl.suggestedFilename()];
  };
  let [ok, fn] = await dlCheck('pages');
  check('CSV link downloads the report\'s CSV (text equals the mock\'s, (other) line and a quoted name included)', ok && fn.endsWith('.csv'), fn);
  [ok, fn] = await dlCheck('countries');
  check('CSV download: countries', ok, fn);
  check('countries shown by name via Intl.DisplayNames, with the ISO code', (await page.textContent('#panels [data-rep="countries"] tbody tr')).startsWith('NorwayNO'));
  await page.click('#tab-channels');
  await page.waitForFunction(() => document.querySelector('[data-rep=channels] tbody'), null, WAIT);
  check('channels shown with readable names', (await page.textContent('[data-rep=channels] tbody tr')).startsWith('Direct'));
  await page.click('#tab-campaigns');
  await page.click('[data-rep=campaigns] [data-by=source]');
  const cr = await waitReq(l => l.rep === 'campaigns' && l.q.by === 'source');
  await page.waitForFunction(() => document.querySelector('[data-rep=campaigns] tbody th')?.textContent === 'newsletter', null, WAIT);
  check('campaigns: the source switch asks for by=source and shows sources', cr && /by=source/.test(page.url()));
  [ok, fn] = await dlCheck('campaigns');
  check('CSV download: campaigns by source', ok, fn);
  await contrastCheck(page, 'light');
  await page.evaluate(() => scrollTo(0, 0));
  const over = await page.locator('#chart .u-over').boundingBox();
  await page.mouse.move(over.x + over.width * 0.6, over.y + over.height / 2);
  const live = await page.textContent('#chart .u-legend');
  check('hovering the chart shows that day\'s date and figures in the legend', /\w{3}, \w{3} \d+, 2026/.test(live), live.slice(0, 80));
  await shot(page, 'en');
  await close('first view');
});

// 2. range changes: redraw, hourly for one day, 12 months, custom, reload -----------------------------
await step('ranges', async () => {
  const { page, close } = await open('/stats/?site=demo&range=30d');
  await ready(page);
  const before = await pixels(page, '#chart');
  mock.log.length = 0;
  await page.selectOption('#range', '7d');
  await ready(page);
  let ts = lastReq('timeseries');
  const after = await pixels(page, '#chart');
  check('range change: the page asks for the new from/to', ts?.q.from === add(TODAY, -6) && ts.q.to === TODAY && mock.log.filter(l => l.q.from === add(TODAY, -6)).length >= 4, JSON.stringify(ts?.q));
  check('range change: the chart is redrawn', after.n > 2000 && after.h !== before.h);
  const bad = cardsMatch(await cardText(page), summary('demo', add(TODAY, -6), TODAY));
  check('range change: summary equals the mock\'s for the new period', !bad.length, bad.join('; '));

  await page.selectOption('#range', 'today');
  await ready(page);
  ts = lastReq('timeseries');
  const c = await cardText(page);
  check('Today: hourly series (from = to = today), no sum-of-daily note', ts?.q.from === TODAY && ts.q.to === TODAY && c.visitors.note === null);
  const ticks = await page.evaluate(() => document.querySelector('#chart .u-legend .u-series th')?.textContent);
  check('Today: chart drawn', (await pixels(page, '#chart')).n > 2000, ticks);
  await shot(page, 'today', false);

  const t0 = Date.now();
  await page.selectOption('#range', '12mo');
  await ready(page);
  ts = lastReq('timeseries');
  const ms = Date.now() - t0;
  check('Last 12 months: 365 daily points, drawn fast', ts?.q.from === '2025-12-03' && ts.q.to === TODAY && (await pixels(page, '#chart')).n > 2000 && ms < 3000, `${ms} ms`);

  // custom: the longest range the API allows (400 days)
  await page.selectOption('#range', 'custom');
  await page.locator('#from').waitFor({ state: 'visible', ...WAIT });
  mock.log.length = 0;
  const from = add(TODAY, -399);
  await page.fill('#from', from);
  await page.fill('#to', TODAY);
  await ready(page);
  const r = await waitReq(l => l.rep === 'timeseries' && l.q.from === from && l.q.to === TODAY);
  const draw = await page.evaluate(() => { const t = performance.now(); dispatchEvent(new Event('resize')); return performance.now() - t; });
  check('custom range: the page asks for the chosen from/to (400 days)', !!r && /range=custom/.test(page.url()) && page.url().includes(`from=${from}`), page.url());
  // Functional, not timed (wall-clock limits fail on a loaded machine): two frames after the
  // container shrinks, the canvas has the new width and is drawn; the times are only reported.
  const wide = await pixels(page, '#chart');
  const long = await page.evaluate(() => new Promise(res => {
    const t = performance.now(), el = document.querySelector('#chart');
    el.parentElement.style.width = '700px';
    requestAnimationFrame(() => requestAnimationFrame(() => { res(performance.now() - t); })); }));
  const narrow = await pixels(page, '#chart');
  check('400 daily points: a resize redraws within two frames', narrow.w > 0 && narrow.w < wide.w && narrow.n > 2000,
    `${wide.w} -> ${narrow.w} px wide, ${long.toFixed(0)} ms, ${draw.toFixed(1)} ms`);
  await page.evaluate(() => { document.querySelector('#chart').parentElement.style.width = ''; });
  await page.reload();
  await ready(page);
  check('reload keeps the custom range (inputs and requests)', await page.inputValue('#from') === from && await page.inputValue('#to') === TODAY
    && lastReq('summary').q.from === from, await page.inputValue('#from'));
  mock.log.length = 0;
  await page.fill('#from', add(TODAY, 3));
  await page.locator('#bad').waitFor({ state: 'visible', ...WAIT });
  await page.waitForTimeout(200);
  check('custom range after its end: a message, no request', !mock.log.some(l => l.rep === 'summary'));
  await page.fill('#from', add(TODAY, -10));
  await ready(page);
  check('a valid custom range again: message gone, data loaded', await page.locator('#bad').isHidden() && lastReq('summary')?.q.from === add(TODAY, -10));
  const beforeBack = page.url();
  await page.goBack();
  await page.waitForFunction(u => location.href !== u, beforeBack, WAIT);
  await page.waitForFunction(() => document.getElementById('from').value === new URLSearchParams(location.search).get('from'), null, WAIT)
    .then(() => check('back button restores the previous view', true), e => check('back button restores the previous view', false, e.message.split('\n')[0]));
  await close('ranges');
});

// 3. compare ----------------------------------------------------------------------------------------
await step('compare', async () => {
  const { page, close } = await open('/stats/?site=demo&range=30d');
  await ready(page);
  mock.log.length = 0;
  await page.check('#compare');
  await page.waitForFunction(() => document.querySelectorAll('#cards .chg').length === 6, null, WAIT);
  await ready(page);
  const s = summary('demo', ...demo30), c = await cardText(page);
  const rel = k => `${s[k] >= s.previous[k] ? '↑' : '↓'} ${Math.round(Math.abs(s[k] - s.previous[k]) / s.previous[k] * 100)}%`;
  const norm = x => (x || '').replace(/\s+/g, ' ').replace(/ %/, '%').replace(/(up|down) /, '').trim();
  const want = { visitors: rel('visitors'), page_views: rel('page_views'), visits: rel('visits') };
  const bad = Object.entries(want).filter(([k, v]) => !norm(c[k].chg).startsWith(v.replace(/ (\d)/, ' $1'))).map(([k, v]) => `${k} "${norm(c[k].chg)}" != "${v}"`);
  const bp = (Math.round(Math.abs(s.bounce_rate - s.previous.bounce_rate) * 1000) / 10).toString();
  check('compare: change vs the previous period on every card (arrow and %), bounce rate in points', !bad.length && norm(c.bounce_rate.chg).endsWith(`${bp} pp`), bad.join('; ') + ' ' + c.bounce_rate.chg);
  const [pa, pb] = prevOf(...demo30);
  const pr = await waitReq(l => l.rep === 'timeseries' && l.q.from === pa && l.q.to === pb);
  check('compare: previous period\'s series requested and drawn (4 series)', !!pr && await page.$$eval('#chart .u-legend .u-series', ss => ss.length) === 5);
  check('compare: in the URL and the period text', /compare=1/.test(page.url()) && /compared with/.test(await page.textContent('#period')));
  await page.uncheck('#compare');
  await page.waitForFunction(() => !document.querySelector('#cards .chg'), null, WAIT);
  check('compare off: previous-period figures gone, 2 series', await page.$$eval('#chart .u-legend .u-series', ss => ss.length) === 3);
  await close('compare');
});

// 4. languages ---------------------------------------------------------------------------------------
await step('languages', async () => {
  const { page, close } = await open('/stats/', { locale: 'nb-NO' });
  await ready(page);
  check('Norwegian browser: bokmål by default (<html lang="nb">)', await page.evaluate(() => document.documentElement.lang) === 'nb' && await page.textContent('h1') === 'Statistikk');
  const other = await page.textContent('#tp-pages tr.other th');
  check('nb: (other) row labelled "Andre (grupper under k besøkende)"', other === 'Andre (grupper under 5 besøkende)', other);
  check('nb: dates formatted for the language', /nov\.?.*des\.?|des\.?/.test(await page.textContent('#period')), await page.textContent('#period'));
  check('nb: sum-of-daily note in Norwegian with a decimal comma', /sum av daglige besøkende, ±0,8\s?%/.test((await cardText(page)).visitors.note));
  await page.evaluate(() => scrollTo(0, 0));
  await shot(page, 'nb');
  await page.selectOption('#lang', 'en');
  await page.waitForFunction(() => document.documentElement.lang === 'en', null, WAIT);
  await ready(page);
  check('language switch: texts and lang change, choice in the URL', await page.textContent('h1') === 'Statistics'
    && await page.textContent('#tp-pages tr.other th') === 'Other (groups under 5 visitors)' && /lang=en/.test(page.url()));
  await page.reload();
  await ready(page);
  check('reload keeps the chosen language', await page.evaluate(() => document.documentElement.lang) === 'en');
  await close('languages');
  const nn = await open('/stats/', { locale: 'nn-NO' });
  await ready(nn.page);
  check('nynorsk browser: bokmål', await nn.page.evaluate(() => document.documentElement.lang) === 'nb');
  await nn.close('nn');
});

// 5. empty site ----------------------------------------------------------------------------------------
await step('empty', async () => {
  const { page, close } = await open('/stats/?site=demo&range=7d');
  await ready(page);
  await page.selectOption('#site', 'quiet');
  await ready(page);
  const c = await cardText(page);
  check('site switch: requests for the other site', lastReq('summary').q.site === 'quiet' && /site=quiet/.test(page.url()));
  check('no data: cards show 0 and — (no visit: no rates)', digits(c.visitors.val) === '0' && c.bounce_rate.val === '—' && c.visit_duration_s.val === '—');
  check('no data: chart and tables show "No data for this period"', await page.locator('#chart-empty').isVisible()
    && (await page.textContent('#tp-pages .tbl')) === 'No data for this period' && await page.locator('#cchart-empty').isVisible());
  check('no data: no dropped warning', await page.locator('#dropped').isHidden());
  await close('empty');
});

// 6. small screens, keyboard ----------------------------------------------------------------------------
await step('320', async () => {
  const { page, close } = await open('/stats/?site=demo&range=30d&compare=1', { viewport: { width: 320, height: 700 } });
  await ready(page);
  const sw = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  check('320 px: no horizontal scroll', sw[0] <= sw[1], sw.join(' > '));
  const cw = await page.$$eval('.panel', ps => ps.map(p => Math.round(p.getBoundingClientRect().right)));
  check('320 px: panels stack inside the viewport', cw.every(r => r <= 320), cw.join(','));
  await shot(page, '320');
  await close('320');
});
await step('keyboard', async () => {
  const { page, close } = await open('/stats/?site=demo&range=30d');
  await ready(page);
  let found = false;
  for (let i = 0; i < 40 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement?.id === 'tab-pages');
  }
  check('keyboard: the tabs are reachable with Tab', found);
  const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check('keyboard: visible focus', ring !== 'none', ring);
  mock.log.length = 0;
  await page.keyboard.press('ArrowRight');
  const st = await page.evaluate(() => [document.activeElement.id, document.activeElement.getAttribute('aria-selected'),
    document.getElementById('tp-entry-pages').hidden, document.getElementById('tp-pages').hidden]);
  check('keyboard: ArrowRight selects and focuses the next tab and shows its panel', JSON.stringify(st) === '["tab-entry-pages","true",false,true]', st.join(','));
  check('keyboard: the new tab loads its report', !!await waitReq(l => l.rep === 'entry-pages'));
  await page.waitForFunction(() => document.querySelector('#tp-entry-pages thead'), null, WAIT);
  const th = await page.$$eval('#tp-entry-pages thead th', ts => ts.map(t => t.textContent));
  check('entry pages count visits', th[2] === 'Visits', th.join(','));
  await page.keyboard.press('ArrowRight');
  check('keyboard: ArrowRight wraps to the first tab', await page.evaluate(() => document.activeElement.id) === 'tab-pages');
  await page.keyboard.press('End');
  await page.keyboard.press('Home');
  check('keyboard: Home/End', await page.evaluate(() => document.activeElement.id) === 'tab-pages');
  const tabs = await page.$$eval('[role=tablist]', ls => ls.map(l => [l.getAttribute('aria-labelledby'), l.querySelectorAll('[role=tab][tabindex="0"]').length]));
  check('tablists labelled, one tab in the tab order each', tabs.length === 3 && tabs.every(([l, n]) => l && n === 1), JSON.stringify(tabs));
  const labelled = await page.$$eval('select, input', es => es.every(e => e.labels?.length && e.labels[0].textContent.trim()));
  check('every control has a label', labelled);
  await page.click('form[action="/logout"] button');
  await page.waitForURL(/\/login$/, WAIT);
  check('log-out button posts to /logout', true);
  await close('keyboard');
});

// 7. dark mode -------------------------------------------------------------------------------------------
await step('dark', async () => {
  const { page, close } = await open('/stats/?site=demo&range=30d&compare=1', { colorScheme: 'dark' });
  await ready(page);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check('dark palette applied', lum(bg) < 0.05, bg);
  await contrastCheck(page, 'dark');
  check('dark: chart drawn', (await pixels(page, '#chart')).n > 2000);
  await shot(page, 'dark');
  await close('dark');
});

// 8. API failures: 503 shows an error, 401 goes to /login; realtime refresh -------------------------------
await step('errors', async () => {
  mock.fail = 503;
  const { page, close } = await open(null, {}, /status of 503/);
  await page.goto(`${base}/stats/?site=demo&range=7d`);
  const alert = page.locator('#alert');
  await alert.waitFor({ state: 'visible', ...WAIT });
  check('503: a visible error message with the API\'s reason', /statistics store unreachable/.test(await alert.textContent()), await alert.textContent());
  check('503: the page is still usable (controls present, site list loaded)', await page.locator('#range').isEnabled()
    && await page.$$eval('#site option', o => o.length) === 2);
  await page.waitForFunction(() => !document.querySelector('[aria-busy]'), null, WAIT);
  const parts = await page.$$eval('.tbl:not([hidden]) .empty, #chart-empty', ps => ps.filter(p => p.offsetParent).map(p => p.textContent));
  check('503: every part says it could not load (no endless "Loading…", no stale chart)', parts.length >= 5
    && parts.every(x => x === 'Could not load this part.') && await page.locator('#chart').isHidden(), parts.join('|'));
  await shot(page, '503', false);
  mock.fail = null;
  await page.click('#retry');
  await ready(page);
  check('after "Try again": the alert is gone and figures shown', await alert.isHidden() && digits((await cardText(page)).visitors.val) === String(summary('demo', add(TODAY, -6), TODAY).visitors));
  await close('503');

  mock.fail = 401;
  const l = await open(null, {}, /status of 401/);
  await l.page.goto(`${base}/stats/?site=demo&range=7d`);
  await l.page.waitForURL(/\/login\?next=/, WAIT);
  const next = new URL(l.page.url()).searchParams.get('next');
  check('401: redirected to /login?next=/stats/…', next.startsWith('/stats/'), l.page.url());
  mock.fail = null;
  await l.close('401');

  const rt = await open(null);
  await rt.page.clock.install();
  await rt.page.goto(`${base}/stats/?site=demo&range=7d`);
  await ready(rt.page);
  const n0 = mock.log.filter(x => x.rep === 'realtime').length;
  await rt.page.clock.runFor(31000);
  const again = await waitReq(() => mock.log.filter(x => x.rep === 'realtime').length > n0, 3000);
  check('live figure refreshed every 30 s', !!again);
  await rt.close('realtime');
});

check('every request the page made was valid under docs/stats-api.md', !mock.bad.length, mock.bad.slice(0, 3).join(' | '));
await browser.close();
server.close();
console.log(`${failed ? 'FAIL' : 'PASS'} e2e.dashboard_ui: ${failed} failed, ${((Date.now() - T0) / 1000).toFixed(1)} s, screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
