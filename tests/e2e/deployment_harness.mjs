// The shared harness of the reference-deployment tests (issue 12, e2e.deployment.<name>): starts a
// redis-server, each stand-in site of configs/deployments/<name>/sites/ (configs/demo-site/server.py
// with the site's cookies.json) and the real consent-gateway with the deployment's own gateway.json,
// only its ports and runtime paths rewritten to free loopback ports and a temporary directory.
// Chromium maps every *.localhost host to 127.0.0.1 and routes every other host to a local stub
// that records the request, so nothing leaves the machine. Helpers: check/step (named PASS/FAIL
// lines), open (a browser context on a site), the banner's controls, the consent endpoints, the
// admin listener, redis-cli. Exits 77 when chromium, playwright-core, redis-server or python3 is
// missing. Screenshots go to $CG_ARTIFACTS (default build-e2e-artifacts)/deployment-<name>-*.png.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort, sleep, until } from './wait.mjs';

const SKIP = 77;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = resolve(process.env.CG_ARTIFACTS || 'build-e2e-artifacts');
// A desktop Chrome: HeadlessChrome is a bot to the analytics, which would then count nothing.
const USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const PRIVACY_BEGIN = /<!-- consent-gateway:privacy-text (nb|en) -->\n?/;
const PRIVACY_END = '<!-- /consent-gateway:privacy-text -->';

const wildcard = pattern => new RegExp(`^${pattern.split('*').map(p => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

/// Starts deployment `name` with `binary`; returns the harness `h` (see the end of this function).
export async function startDeployment(name, binary, { budgetMs = 200000 } = {}) {
  const tag = `e2e.deployment.${name}`;
  const skip = why => { console.log(`skipped: ${why}`); process.exit(SKIP); };
  const dir = join(root, 'configs', 'deployments', name);
  if (!existsSync(join(dir, 'gateway.json'))) { console.log(`FAIL ${tag}: no ${dir}/gateway.json`); process.exit(1); }
  if (!binary || !existsSync(binary)) skip(`no consent-gateway binary (${binary || 'none given'})`);
  if (!existsSync(chromiumPath)) skip(`no chromium at ${chromiumPath} (apt-get install chromium)`);
  const redisPath = ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server'].find(existsSync);
  if (!redisPath) skip('no redis-server (apt-get install redis-server)');
  const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find(existsSync);
  if (!python) skip('no python3');
  let chromium;
  try { ({ chromium } = await import('playwright-core')); } catch (e) { skip(`playwright-core not installed (${e.code || e.message})`); }

  // ---- every child stopped, also on failure ------------------------------------------------------
  const tmp = mkdtempSync(join(tmpdir(), `cg-e2e-${name}-`));
  const children = [];
  let shuttingDown = false;
  const cleanup = () => {
    shuttingDown = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
    try { rmSync(tmp, { recursive: true, force: true }); } catch { /* best effort */ }
  };
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { console.log(`FAIL ${tag} (${sig})`); process.exit(1); });
  process.on('unhandledRejection', e => { console.log(`FAIL ${tag} unhandled: ${e && e.stack || e}`); process.exit(1); });
  setTimeout(() => { console.log(`FAIL ${tag}.timeout (whole test > ${budgetMs / 1000} s)`); process.exit(1); }, budgetMs).unref();
  const start = (cmd, args, label) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    c.log = '';
    const add = d => { c.log += d; if (c.log.length > 200000) c.log = c.log.slice(-100000); };
    c.stdout.on('data', add); c.stderr.on('data', add);
    c.on('exit', (code, sig) => { if (!shuttingDown) console.log(`  (${label} exited: ${code ?? sig})`); });
    children.push(c);
    return c;
  };

  // ---- checks ------------------------------------------------------------------------------------------
  let failed = 0, passed = 0;
  const check = (what, ok, detail = '') => {
    console.log(`${ok ? 'PASS' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
    if (ok) passed++; else failed++;
    return ok;
  };
  const only = process.env.CG_ONLY ? new RegExp(process.env.CG_ONLY) : null;
  const step = async (what, fn) => {
    if (only && !only.test(what)) return;
    const t0 = Date.now();
    try { await fn(); } catch (e) { check(what, false, String(e && e.message || e).split('\n')[0]); }
    console.log(`  -- ${what}: ${Date.now() - t0} ms`);
  };
  const fatal = (what, detail) => { check(what, false, detail); process.exit(1); };

  // ---- 1. redis ----------------------------------------------------------------------------------------
  const redisSock = join(tmp, 'redis.sock');
  start(redisPath, ['--port', '0', '--unixsocket', redisSock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', tmp], 'redis-server');
  if (!await until(() => existsSync(redisSock), 5000)) fatal('redis-server creates its socket within 5 s');
  const redis = (...args) => spawnSync('redis-cli', ['-s', redisSock, ...args], { encoding: 'utf8', timeout: 10000 }).stdout || '';

  // ---- 2. the deployment's configuration, ports and runtime paths rewritten -----------------------------------
  const original = JSON.parse(readFileSync(join(dir, 'gateway.json'), 'utf8'));
  const config = structuredClone(original);
  const port = await freePort();
  let adminPort = await freePort();
  while (adminPort === port) adminPort = await freePort();
  config.listen.port = port;
  config.admin.port = adminPort;
  config.redis = { ...config.redis, socket: redisSock };
  const keyFile = join(tmp, 'consent.key');
  writeFileSync(keyFile, randomBytes(48).toString('base64') + '\n', { mode: 0o600 });
  config.consent = { ...config.consent, key_file: keyFile, journal: { ...(config.consent.journal || {}), path: join(tmp, 'journal.jsonl') } };
  if (config.analytics) {
    config.analytics = { ...config.analytics, flush_interval_ms: 200 };
    if (config.analytics.geoip_db && !isAbsolute(config.analytics.geoip_db)) config.analytics.geoip_db = resolve(dir, config.analytics.geoip_db);
  }

  // ---- 3. the stand-in sites ------------------------------------------------------------------------------------
  const sites = [];
  for (const s of config.sites) {
    const siteDir = join(dir, 'sites', s.name);
    const args = [join(root, 'configs', 'demo-site', 'server.py'), '--host', '127.0.0.1', '--port', '0', '--root', join(siteDir, 'www')];
    if (existsSync(join(siteDir, 'cookies.json'))) args.push('--cookies', join(siteDir, 'cookies.json'));
    const c = start(python, args, `site ${s.name}`);
    const sitePort = await until(() => { const m = /serving .* on http:\/\/[^/]*:(\d+)\//.exec(c.log); return m && Number(m[1]); }, 8000);
    if (!sitePort) fatal(`stand-in site ${s.name} starts`, c.log.slice(-500));
    s.upstream = `http://127.0.0.1:${sitePort}`;
    const rules = [...(s.consent?.cookies || []), ...JSON.parse(readFileSync(join(root, 'configs', 'cookie-catalogue.json'), 'utf8')).cookies];
    sites.push({
      name: s.name, host: s.hosts[0], hosts: s.hosts, dir: siteDir, config: s, upstream: c,
      controller: s.banner?.controller?.name || '',
      origin: `http://${s.hosts[0]}:${port}`,
      // The category of a cookie name by the site's rules, then the catalogue; '' when unknown.
      categoryOf: n => (rules.find(r => wildcard(r.name).test(n)) || {}).category || '',
    });
  }
  const configFile = join(tmp, 'gateway.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  // ---- 4. the gateway ------------------------------------------------------------------------------------------------
  const cc = spawnSync(binary, ['--check-config', configFile], { encoding: 'utf8', timeout: 10000 });
  const ccOut = `${cc.stdout || ''}${cc.stderr || ''}`.trim();
  if (!check(`config: ${name}'s gateway.json passes --check-config and the banner lint`, cc.status === 0, ccOut.split('\n').slice(0, 6).join(' | '))) process.exit(1);
  const gw = start(binary, [configFile], 'consent-gateway');
  const admin = `http://127.0.0.1:${adminPort}`;
  const ready = await until(async () => {
    try { return (await fetch(`${admin}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200; } catch { return false; }
  }, 15000, 100);
  if (!ready) fatal('gateway: /readyz answers 200', gw.log.slice(-3000));
  const adminFetch = (path, init = {}) => fetch(`${admin}${path}`, { ...init, headers: { Authorization: `Bearer ${config.admin.token}`, ...(init.headers || {}) } });

  /// A request to the gateway as `host` (Node's resolver does not map *.localhost).
  const request = (site, path, { method = 'GET', headers = {}, body } = {}) => new Promise((res, rej) => {
    const r = http.request({ host: '127.0.0.1', port, path, method, headers: { Host: `${site.host}:${port}`, ...headers } }, resp => {
      const parts = [];
      resp.on('data', d => parts.push(d));
      resp.on('end', () => res({ status: resp.statusCode, headers: resp.headers, text: Buffer.concat(parts).toString('utf8') }));
    });
    r.setTimeout(8000, () => r.destroy(new Error(`${path}: timeout`)));
    r.on('error', rej);
    r.end(body);
  });

  // ---- 5. the browser -----------------------------------------------------------------------------------------------
  mkdirSync(artifacts, { recursive: true });
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true,
    args: ['--host-resolver-rules=MAP *.localhost 127.0.0.1'] });
  const catalogue = JSON.parse(readFileSync(join(root, 'configs', 'tracker-catalogue.json'), 'utf8')).trackers;
  /// The tracker catalogue's category of a host ('' when not a known tracker).
  const trackerCategory = h => (catalogue.find(t => h === t.host || h.endsWith(`.${t.host}`)) || {}).category || '';
  const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
  const stub = type => type === 'script' ? { status: 200, contentType: 'text/javascript', body: 'window.__stubs=(window.__stubs||0)+1;' }
    : type === 'image' ? { status: 200, contentType: 'image/gif', body: GIF }
      : { status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>stub</title><p>third party</p>' };

  /// A fresh browser context on `site` (chromium at 1280x800 unless opts say otherwise); its
  /// `tr` lists every request to a host outside *.localhost as {host, category, type, t}.
  async function open(site, path = '/', opts = {}) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'nb-NO', userAgent: USER_AGENT, ...opts });
    ctx.setDefaultTimeout(6000);
    ctx.setDefaultNavigationTimeout(8000);
    const tr = [];
    await ctx.route(u => !u.hostname.endsWith('.localhost') && u.hostname !== 'localhost', async route => {
      const u = new URL(route.request().url());
      const type = route.request().resourceType();
      tr.push({ host: u.hostname, category: trackerCategory(u.hostname), type, t: Date.now() });
      await route.fulfill(stub(type));
    });
    const page = await ctx.newPage();
    page.errors = [];
    page.on('pageerror', e => page.errors.push(e.message));
    if (path) await page.goto(site.origin + path, { waitUntil: 'load' });
    return { ctx, page, tr };
  }
  const DLG = '.cg-root .cg-dlg[role="dialog"]';
  const act = a => `${DLG} .cg-l:not([hidden]) [data-consent-action="${a}"]`;
  const dialogShown = async (page, ms = 5000) => {
    try { await page.waitForSelector(`${DLG}:not([hidden])`, { state: 'visible', timeout: ms }); return true; } catch { return false; }
  };
  /// Clicks `selector` and returns the POST /_consent answer's JSON (with .status).
  const decide = async (page, selector) => {
    const [r] = await Promise.all([
      page.waitForResponse(x => new URL(x.url()).pathname === '/_consent' && x.request().method() === 'POST', { timeout: 6000 }),
      page.click(selector),
    ]);
    const body = await r.json().catch(() => null);
    if (body) return { status: r.status(), ...body };
    // The banner reloads the page after a withdrawal, which can take the answer's body away:
    // the decision is then read back from /_consent/state.
    await page.waitForLoadState('load');
    const s = await state(page);
    return { status: r.status(), consent_id: s.consent_id, granted: s.granted, method: s.method };
  };
  /// Opens the settings layer, ticks exactly `categories`, saves.
  const saveChoice = async (page, categories) => {
    if (await page.isVisible(act('settings'))) await page.click(act('settings'));
    else if (!await page.isVisible(`${DLG} .cg-l2:not([hidden])`)) await page.click('[data-consent-open], .cg-reopen');
    await page.waitForSelector(`${DLG} .cg-l2:not([hidden])`);
    for (const box of await page.$$(`${DLG} input[data-consent-category]:not([disabled])`)) {
      const want = categories.includes(await box.getAttribute('data-consent-category'));
      if (await box.isChecked() !== want) await box.click();
    }
    return decide(page, act('save'));
  };
  const inPage = (page, path, init = {}) => page.evaluate(async ([p, i]) => {
    const r = await fetch(p, { headers: { Accept: 'application/json' }, ...i });
    return { status: r.status, disposition: r.headers.get('content-disposition') || '', text: await r.text() };
  }, [path, init]);
  const state = async page => JSON.parse((await inPage(page, '/_consent/state')).text);
  const settle = page => page.waitForLoadState('networkidle', { timeout: 4000 }).catch(() => {});
  /// Cookie names in the browser for `site`, and those of them that are not necessary.
  const jar = async (ctx, site) => (await ctx.cookies(site.origin)).map(c => c.name);
  const optional = (site, names) => names.filter(n => n !== 'cg_consent' && site.categoryOf(n) !== 'necessary');
  const shot = (page, what) => page.screenshot({ path: join(artifacts, `deployment-${name}-${what}.png`), animations: 'disabled' })
    .catch(e => console.log(`  (screenshot ${what}: ${e.message})`));

  /// '' when the privacy statement's generated section (in the language its marker names) is
  /// what --privacy-text prints now, else what is wrong.
  function privacyDrift(site) {
    const page = readFileSync(join(site.dir, 'www', 'pages', 'personvern.html'), 'utf8');
    const begin = PRIVACY_BEGIN.exec(page);
    const end = page.indexOf(PRIVACY_END);
    if (!begin || end < 0) return 'no consent-gateway:privacy-text markers in pages/personvern.html';
    const printed = spawnSync(binary, ['--privacy-text', configFile, site.name, '--lang', begin[1], '--format', 'html'], { encoding: 'utf8', timeout: 10000 });
    if (printed.status !== 0) return `--privacy-text failed: ${printed.stderr}`;
    return page.slice(begin.index + begin[0].length, end) === printed.stdout ? '' : 'the section differs from --privacy-text (run scripts/privacy-text-sync)';
  }

  return {
    name, tag, sites, config, admin, adminFetch, request, redis, browser,
    check, step, until, sleep, open, shot, DLG, act, dialogShown, decide, saveChoice, inPage, state, settle, jar, optional,
    privacyDrift,
    async finish() {
      await browser.close().catch(() => {});
      console.log(`${failed ? 'FAIL' : 'PASS'} ${tag}: ${passed} passed, ${failed} failed`);
      process.exit(failed ? 1 : 0);
    },
  };
}
