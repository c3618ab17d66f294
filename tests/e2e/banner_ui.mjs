// e2e.banner_ui: the banner front end (banner/assets/banner.js + banner.css) in Debian's chromium,
// against a mock of the gateway's consent endpoints (DESIGN.md §5) served from 127.0.0.1.
// Checks DESIGN.md §3 T1–T4, T7, L6, A1–A5 as named PASS/FAIL lines; exit 1 on any failure,
// 77 when chromium or playwright-core is missing. Screenshots go to $CG_ARTIFACTS
// (default build-e2e-artifacts)/banner-ui-*.png. Usage: node tests/e2e/banner_ui.mjs
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SKIP = 77;
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const fx = join(here, 'fixtures');
const assets = join(repo, 'banner/assets');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = resolve(process.env.CG_ARTIFACTS || 'build-e2e-artifacts');
const T0 = Date.now();

function skip(why) { console.log(`skipped: ${why}`); process.exit(SKIP); }
if (!existsSync(chromiumPath)) skip(`no chromium at ${chromiumPath} (apt-get install chromium)`);
let chromium;
try { ({ chromium } = await import('playwright-core')); } catch (e) { skip(`playwright-core not installed (${e.code || e.message})`); }

const hardStop = setTimeout(() => { console.log('FAIL e2e.banner_ui.timeout (whole test > 60 s)'); process.exit(1); }, 60000);
hardStop.unref();

// ---- mock gateway ----------------------------------------------------------------------------
const ALL = ['necessary', 'preferences', 'analytics', 'marketing'];
const log = [];
const cookiesOf = req => Object.fromEntries((req.headers.cookie || '').split(/;\s*/).filter(Boolean)
  .map(c => [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)]));
const stateOf = req => {
  const c = cookiesOf(req);
  if (!c.cg_consent) return { decided: false, granted: ['necessary'], refused: [], undecided: ALL.slice(1), gpc: false };
  const granted = c.cg_consent.split('.');
  return { decided: true, granted, refused: ALL.filter(x => !granted.includes(x)), undecided: [], gpc: false,
    consent_id: c.cg_id, method: 'banner', issued: '2026-01-01T00:00:00Z', expires: '2027-01-01T00:00:00Z' };
};
const json = (res, code, body, headers = {}) => {
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
};
const readBody = req => new Promise(r => { let b = ''; req.on('data', c => { b += c; }); req.on('end', () => r(b)); });
const types = { js: 'text/javascript', css: 'text/css', json: 'application/json', html: 'text/html; charset=utf-8' };
const file = (res, p, headers = {}) => {
  if (!existsSync(p)) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'Content-Type': types[p.split('.').pop()] || 'application/octet-stream', ...headers });
  res.end(readFileSync(p));
};
let failPost = false;

const server = http.createServer(async (req, res) => {
  const u = new URL(req.url, 'http://x');
  const p = u.pathname;
  let m;
  if ((m = /^\/(nb|nn|en|no|csp|broken)$/.exec(p))) {
    const st = stateOf(req);
    const html = readFileSync(join(fx, 'page.html'), 'utf8')
      .replace('{{LANG}}', m[1] === 'csp' ? 'nb-NO' : m[1] === 'nn' ? 'nn-NO' : m[1])
      .replace('{{DECIDED}}', st.decided ? '1' : '0').replace('{{GRANTED}}', st.granted.join(' '))
      .replace('{{GPC}}', u.searchParams.get('gpc') || '0').replace('{{MODE}}', u.searchParams.get('mode') || 'off')
      .replace('site.{lang}.test.json', m[1] === 'broken' ? 'missing.{lang}.json' : 'site.{lang}.test.json');
    const h = { 'Content-Type': types.html, 'Cache-Control': 'no-store' };
    if (m[1] === 'csp') h['Content-Security-Policy'] = "script-src 'nonce-test123'; style-src 'self'";
    res.writeHead(200, h);
    res.end(html);
  } else if ((m = /^\/fixtures\/([\w.-]+)$/.exec(p))) file(res, join(fx, m[1]));
  else if ((m = /^\/_consent\/banner\.test\.(js|css)$/.exec(p))) file(res, join(assets, 'banner.' + m[1]));
  else if ((m = /^\/_consent\/site\.(nb|nn|en)\.test\.json$/.exec(p))) file(res, join(fx, `site.${m[1]}.json`));
  else if (p === '/_consent' && req.method === 'POST') {
    let b;
    try { b = JSON.parse(await readBody(req)); } catch { return json(res, 400, { error: 'bad json' }); }
    log.push({ method: 'POST', ...b });
    if (failPost) return json(res, 503, { error: 'unavailable' });
    const granted = b.action === 'accept-all' ? ALL : b.action === 'reject-all' ? ['necessary']
      : b.action === 'save' && Array.isArray(b.categories) ? ['necessary', ...ALL.filter(x => x !== 'necessary' && b.categories.includes(x))]
        : null;
    if (!granted) return json(res, 400, { error: 'bad action' });
    // Deliberately no expiry Set-Cookie for _ga etc.: the test must see the banner's own erasure.
    json(res, 200, { granted, refused: ALL.filter(x => !granted.includes(x)), consent_id: 'c-12345' },
      { 'Set-Cookie': [`cg_consent=${granted.join('.')}; Path=/; HttpOnly; SameSite=Lax`, 'cg_id=c-12345; Path=/; HttpOnly'] });
  } else if (p === '/_consent/state') json(res, 200, stateOf(req));
  else if (p === '/_consent/record' && req.method === 'GET') {
    log.push({ method: 'GET record' });
    json(res, 200, { records: [stateOf(req)] }, { 'Content-Disposition': 'attachment; filename="consent-record.json"' });
  } else if (p === '/_consent/record' && req.method === 'DELETE') {
    log.push({ method: 'DELETE' });
    json(res, 200, { deleted: true }, { 'Set-Cookie': ['cg_consent=; Path=/; Max-Age=0', 'cg_id=; Path=/; Max-Age=0'] });
  } else { res.writeHead(404); res.end(); }
});
await new Promise(r => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const docs = Object.fromEntries(['nb', 'nn', 'en'].map(l => [l, JSON.parse(readFileSync(join(fx, `site.${l}.json`), 'utf8'))]));

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
const WAIT = { timeout: 5000 };
const DLG = '.cg-root [role="dialog"]';
const act = a => `${DLG} :is(.cg-l:not([hidden])) [data-consent-action="${a}"]`;
const waitLog = (pred, ms = 4000) => new Promise(r => {
  const t0 = Date.now();
  const tick = () => { const e = log.find(pred); if (e || Date.now() - t0 > ms) r(e); else setTimeout(tick, 25); };
  tick();
});

mkdirSync(artifacts, { recursive: true });
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true });
const shot = (page, name) => page.screenshot({ path: join(artifacts, `banner-ui-${name}.png`) });
async function open(path, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  ctx.setDefaultTimeout(5000);
  const page = await ctx.newPage();
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
  });
  page.on('pageerror', e => check('no uncaught page error', false, e.message));
  await page.goto(base + path);
  return { ctx, page };
}

// Relative luminance contrast from computed colors, inside the page.
const colorsOf = (page, sel) => page.$$eval(sel, els => els.map(el => {
  const cs = getComputedStyle(el), r = el.getBoundingClientRect();
  return { h: r.height, w: r.width, fs: cs.fontSize, fw: cs.fontWeight, ff: cs.fontFamily, color: cs.color, bg: cs.backgroundColor,
    text: el.textContent, cls: el.className };
}));
const lum = c => {
  const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
    .map(v => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const opaque = c => !/rgba\(.*,\s*0(\.0+)?\)$/.test(c) && c !== 'transparent';

// 1. first layer, button parity, contrast, keyboard, Escape, reject ----------------------------
await step('first layer', async () => {
  log.length = 0;
  const { ctx, page } = await open('/nb');
  const dlg = page.getByRole('dialog', { name: docs.nb.texts.title });
  await dlg.waitFor({ state: 'visible', ...WAIT });
  check('A1 banner shown for undecided: role=dialog with accessible name', await dlg.isVisible());
  check('A4 dialog lang = nb', (await page.$eval('.cg-root', e => e.lang)) === 'nb');
  check('A1 aria-describedby points at the intro',
    (await page.$eval(DLG, e => document.getElementById(e.getAttribute('aria-describedby'))?.textContent || '')).startsWith('Demo AS vil'));
  check('L2 first layer names controller, contact and third parties',
    await page.$eval('.cg-l1', e => /Demo AS/.test(e.textContent) && !!e.querySelector('a[href^="mailto:"]') &&
      /Google Analytics/.test(e.textContent) && /Meta Pixel/.test(e.textContent)));
  check('L10 page behind stays usable (page button clickable)', await page.locator('#page-button').click({ timeout: 2000 }).then(() => true, () => false));
  await page.$eval(DLG, e => e.focus());
  const b = await colorsOf(page, `.cg-l1 .cg-acts .cg-btn`);
  check('T1 first layer has accept-all, reject-all, settings',
    (await page.$$eval('.cg-l1 [data-consent-action]', els => els.map(e => e.dataset.consentAction).join())) === 'accept-all,reject-all,settings');
  const same = k => b.every(x => x[k] === b[0][k]);
  check('T3 three buttons share class, height, font-size, font-weight, font-family', b.length === 3 && b.every(x => x.cls === 'cg-btn') &&
    b.every(x => Math.abs(x.h - b[0].h) < 0.5) && same('fs') && same('fw') && same('ff'), JSON.stringify(b.map(x => [x.h, x.fs, x.fw])));
  check('T4 three buttons share color and background-color', same('color') && same('bg') && opaque(b[0].bg), `${b[0].color} on ${b[0].bg}`);
  const cr = contrast(b[0].color, b[0].bg);
  check('T4/A3 button text contrast >= 4.5 (light)', cr >= 4.5, cr.toFixed(2));
  check('A5 buttons >= 44 px high', b.every(x => x.h >= 44));
  await shot(page, 'nb-first-layer');

  // Focus moved in at open; Tab cycles inside.
  const inside = () => page.evaluate(() => !!document.activeElement.closest('.cg-root [role="dialog"]'));
  let ok = true;
  for (let i = 0; i < 14; i++) { await page.keyboard.press('Tab'); ok = ok && await inside(); }
  for (let i = 0; i < 5; i++) { await page.keyboard.press('Shift+Tab'); ok = ok && await inside(); }
  check('A2 Tab / Shift+Tab stay inside the dialog', ok);
  const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  check('A3 visible focus outline', ring !== 'none', ring);
  await page.keyboard.press('Escape');
  await page.waitForTimeout(150);
  check('A2 Escape on the first layer keeps it open and records nothing', await dlg.isVisible() && log.length === 0);
  let found = false;
  for (let i = 0; i < 12 && !found; i++) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement.dataset.consentAction === 'reject-all');
  }
  await page.keyboard.press('Enter');
  const e = await waitLog(x => x.method === 'POST');
  check('N6 keyboard only: Tab to reject all + Enter records reject-all', found && e?.action === 'reject-all' && e.language === 'nb', JSON.stringify(e));
  await page.locator(DLG).waitFor({ state: 'hidden', ...WAIT });
  check('A2 focus goes back (to the re-open button) after the choice',
    await page.evaluate(() => document.activeElement.classList.contains('cg-reopen')));
  await shot(page, 'reopen');
  check('T7 re-open button present, labelled, >= 44 px', await page.$eval('.cg-reopen', e => {
    const r = e.getBoundingClientRect(); return !e.hidden && r.width >= 44 && r.height >= 44 && !!e.getAttribute('aria-label');
  }));
  await ctx.close();
});

// 2. settings layer, Escape, saving untouched settings ---------------------------------------
await step('settings layer', async () => {
  log.length = 0;
  const { ctx, page } = await open('/nb');
  await page.click(act('settings'));
  await page.locator('.cg-l2').waitFor({ state: 'visible', ...WAIT });
  const sw = await page.$$eval('.cg-l2 input[data-consent-category]', els => els.map(e => [e.dataset.consentCategory, e.checked, e.disabled]));
  check('T2 settings: switches unchecked, necessary checked+disabled',
    sw.length === 4 && sw.every(([c, ch, di]) => (c === 'necessary' ? ch && di : !ch && !di)), JSON.stringify(sw));
  check('A4 every switch has a label', await page.$$eval('.cg-l2 input[type=checkbox]', els => els.every(e => e.labels.length && e.labels[0].textContent.trim())));
  check('T1 settings layer has accept-all, reject-all, save',
    (await page.$$eval('.cg-l2 .cg-acts [data-consent-action]', els => els.map(e => e.dataset.consentAction).join())) === 'accept-all,reject-all,save');
  check('A1 dialog is named by the settings title', await page.getByRole('dialog', { name: docs.nb.texts.settings_title }).isVisible());
  await page.waitForFunction(() => document.querySelector('.cg-cur').textContent !== '…', null, WAIT);
  check('L11 rights block: not decided + download link', await page.$eval('.cg-rights', (e, nd) =>
    e.querySelector('.cg-cur').textContent === nd && !!e.querySelector('a[href="/_consent/record"][download]'), docs.nb.texts.not_decided));
  await page.click('.cg-l2 .cg-det summary');
  await shot(page, 'settings-layer');
  await page.keyboard.press('Escape');
  await page.waitForTimeout(150);
  check('A2 Escape closes only the settings layer (first layer back) and records nothing',
    await page.isVisible('.cg-l1') && !(await page.isVisible('.cg-l2')) && log.length === 0);
  await page.click(act('settings'));
  await page.click(act('save'));
  const e = await waitLog(x => x.method === 'POST');
  check('T2 saving untouched settings grants nothing', e?.action === 'save' && Array.isArray(e.categories) && e.categories.length === 0,
    JSON.stringify(e));
  await page.locator(DLG).waitFor({ state: 'hidden', ...WAIT });
  check('T2 nothing activated after saving untouched settings', await page.evaluate(() => !window.__activated && !window.__order));
  await ctx.close();
});

// 3. accept all activates without reload; withdrawal via the re-open button; data-consent-open
await step('accept, withdraw', async () => {
  log.length = 0;
  const { ctx, page } = await open('/nb');
  await page.evaluate(() => { window.__marker = 1; });
  await page.click(act('accept-all'));
  await page.waitForFunction(() => (window.__order || []).length >= 3, null, WAIT);
  check('accept all activates held inline + external scripts in document order, without reload',
    await page.evaluate(() => window.__marker === 1 && window.__activated === true && window.__order.join() === 'A,ext,C' && window.__both === true),
    await page.evaluate(() => JSON.stringify(window.__order)));
  check('accept all activates the held iframe and removes its placeholder', await page.$eval('#held-frame', f =>
    f.getAttribute('src') === '/fixtures/frame.html' && !f.hasAttribute('data-consent-src') && !document.querySelector('.cg-placeholder')));
  check('held elements are activated once', await page.evaluate(() => window.__google === 1 &&
    !document.querySelector('script[type="text/plain"][data-consent-category]')));
  await page.evaluate(() => {
    document.cookie = '_ga=1; path=/'; document.cookie = '_ga_X=1'; document.cookie = 'keepme=1; path=/';
    localStorage.setItem('_hjid', '1'); localStorage.setItem('_hjSessionUser_1', '1'); localStorage.setItem('mine', '1');
  });
  await page.locator('.cg-reopen').focus();
  await page.keyboard.press('Enter');
  await page.locator('.cg-l2').waitFor({ state: 'visible', ...WAIT });
  check('T7 re-open button (keyboard) opens the settings layer with the current choice checked',
    await page.$$eval('.cg-l2 input[data-consent-category]', els => els.every(e => e.checked)));
  await page.waitForFunction(() => /c-12345/.test(document.querySelector('.cg-id').textContent), null, WAIT);
  check('L11 rights block shows the consent id', true);
  await page.$eval('.cg-rights', e => e.scrollIntoView());
  await shot(page, 'rights');
  await page.uncheck('input[data-consent-category="analytics"]');
  log.length = 0;
  await Promise.all([page.waitForNavigation(WAIT), page.click(act('save'))]);
  const e = log.find(x => x.method === 'POST');
  check('L6 withdrawal posts the reduced set', JSON.stringify(e?.categories) === '["preferences","marketing"]', JSON.stringify(e));
  await page.locator('.cg-reopen').waitFor({ state: 'visible', ...WAIT });
  const names = (await ctx.cookies()).map(c => c.name);
  check('L6 withdrawal reloads and erases _ga, _ga_* cookies set from JS (others kept)',
    !names.includes('_ga') && !names.includes('_ga_X') && names.includes('keepme'), names.join(' '));
  check('L6 withdrawal erases listed localStorage keys (others kept)', await page.evaluate(() =>
    localStorage.getItem('_hjid') === null && localStorage.getItem('_hjSessionUser_1') === null && localStorage.getItem('mine') === '1'));
  check('after reload analytics stays held', await page.evaluate(() => !window.__activated && document.getElementById('held-frame').src.endsWith('frame.html')));
  await page.click('#open-link');
  await page.locator('.cg-l2').waitFor({ state: 'visible', ...WAIT });
  check('data-consent-open link re-opens the banner', true);
  await page.keyboard.press('Escape');
  await page.locator(DLG).waitFor({ state: 'hidden', ...WAIT });
  check('A2 Escape closes a re-opened banner for a decided visitor, focus back on the link',
    await page.evaluate(() => document.activeElement.id === 'open-link'));
  // rights: delete with a confirm step
  await page.click('.cg-reopen');
  await page.click('.cg-l2 [data-consent-action="delete"]');
  check('L11 delete asks for confirmation first', !log.some(x => x.method === 'DELETE') && await page.isVisible('[data-consent-action="delete-confirm"]'));
  await Promise.all([page.waitForNavigation(WAIT), page.click('[data-consent-action="delete-confirm"]')]);
  check('L11 delete flow calls DELETE /_consent/record and reloads undecided', log.some(x => x.method === 'DELETE') &&
    // isVisible() does not wait: the reloaded page's deferred banner script may not have run yet.
    await page.getByRole('dialog', { name: docs.nb.texts.title }).waitFor({ state: 'visible', timeout: 5000 })
      .then(() => true, () => false));
  await ctx.close();
});

// 4. strict CSP page -------------------------------------------------------------------------
await step('csp', async () => {
  log.length = 0;
  const { ctx, page } = await open('/csp');
  await page.locator(DLG).waitFor({ state: 'visible', ...WAIT });
  check('CSP: banner renders with its stylesheet (style-src self)', await page.$eval(DLG, e => getComputedStyle(e).position === 'fixed'));
  await page.click(act('accept-all'));
  await page.waitForFunction(() => (window.__order || []).length >= 3, null, WAIT);
  const v = await page.evaluate(() => window.__csp);
  check("CSP: activated scripts run under script-src 'nonce-…'; style-src 'self' with no violation",
    v.length === 0 && await page.evaluate(() => window.__order.join() === 'A,ext,C'), v.join('; '));
  await ctx.close();
});

// 5. language choice --------------------------------------------------------------------------
await step('languages', async () => {
  const { ctx, page } = await open('/nn', { locale: 'en-US' });
  for (const [path, l] of [['/nn', 'nn'], ['/en', 'en'], ['/no', 'nb']]) {
    if (path !== '/nn') await page.goto(base + path);
    await page.locator(DLG).waitFor({ state: 'visible', ...WAIT });
    check(`A4 <html lang> ${path.slice(1)} picks ${l}`, (await page.textContent('#cg-title')) === docs[l].texts.title &&
      (await page.$eval('.cg-root', e => e.lang)) === l);
    if (l === 'en') await shot(page, 'en');
  }
  await page.goto(base + '/broken');
  await page.waitForTimeout(1200);
  check('site document missing: no banner, no re-open button, no page error, page usable',
    !(await page.$('.cg-root')) && await page.locator('#page-button').click({ timeout: 2000 }).then(() => true, () => false));
  await ctx.close();
});

// 6. 320 px, 200 % zoom -------------------------------------------------------------------------
await step('reflow', async () => {
  // 200 % zoom of a 1280×800 window lays out like a 640×400 CSS px viewport.
  const { ctx, page } = await open('/nb', { viewport: { width: 320, height: 640 } });
  for (const [name, opts] of [['320', { viewport: { width: 320, height: 640 } }], ['zoom200', { viewport: { width: 640, height: 400 } }]]) {
    if (name !== '320') { await page.setViewportSize(opts.viewport); await page.reload(); }
    await page.locator(DLG).waitFor({ state: 'visible', ...WAIT });
    const W = opts.viewport.width, H = opts.viewport.height;
    await page.$eval(DLG, e => Promise.all(e.getAnimations().map(a => a.finished)));
    let why = '';
    const fit = async () => { const [ok, d] = await page.evaluate(([w, h]) => {
      const bs = [...document.querySelectorAll('.cg-l:not([hidden]) .cg-acts .cg-btn')].map(b => b.getBoundingClientRect());
      const sw = document.documentElement.scrollWidth;
      return [sw <= w && bs.every(r => r.left >= 0 && r.right <= w && r.top >= 0 && r.bottom <= h && r.height >= 44),
        `scrollWidth ${sw}; buttons ` + bs.map(r => [r.left, r.top, r.right, r.bottom].map(Math.round).join(',')).join(' ')];
    }, [W, H]); why = d; return ok; };
    check(`A3 reflow ${name}: first layer, no horizontal scroll, all buttons visible`, await fit(), why);
    if (name === '320') await shot(page, '320');
    await page.click(act('settings'));
    await page.locator('.cg-l2').waitFor({ state: 'visible', ...WAIT });
    await page.$$eval('.cg-l2 details', ds => ds.forEach(d => { d.open = true; }));
    check(`A3 reflow ${name}: settings layer, no horizontal scroll, all buttons visible`, await fit(), why);
    if (name === '320') await shot(page, '320-settings');
  }
  await ctx.close();
});

// 7. dark mode --------------------------------------------------------------------------------
await step('dark', async () => {
  const { ctx, page } = await open('/nb', { colorScheme: 'dark', reducedMotion: 'reduce' });
  await page.locator(DLG).waitFor({ state: 'visible', ...WAIT });
  check('prefers-reduced-motion: no animation', await page.$eval(DLG, e => e.getAnimations().length === 0));
  const b = await colorsOf(page, '.cg-l1 .cg-acts .cg-btn');
  const bg = await page.$eval(DLG, e => getComputedStyle(e).backgroundColor);
  const cr = contrast(b[0].color, b[0].bg), crt = contrast(await page.$eval('#cg-intro', e => getComputedStyle(e).color), bg);
  check('A3 dark palette applied', lum(bg) < 0.05, bg);
  check('T4/A3 button text contrast >= 4.5 (dark), buttons identical', cr >= 4.5 && b.every(x => x.color === b[0].color && x.bg === b[0].bg), cr.toFixed(2));
  check('A3 body text contrast >= 4.5 (dark)', crt >= 4.5, crt.toFixed(2));
  await shot(page, 'dark');
  await page.click(act('settings'));
  await page.click('.cg-l2 .cg-det summary');
  await shot(page, 'dark-settings');
  await ctx.close();
});

// 8. placeholder allow, GPC notice, failure handling, consent mode ------------------------------
await step('placeholder', async () => {
  log.length = 0;
  const { ctx, page } = await open('/nb?gpc=1');
  await page.locator(DLG).waitFor({ state: 'visible', ...WAIT });
  check('L9 GPC notice shown on the first layer', await page.isVisible('.cg-l1 .cg-note'));
  check('A3 light body text contrast >= 4.5', await page.evaluate(() => 1) &&
    contrast(await page.$eval('.cg-meta', e => getComputedStyle(e).color), await page.$eval(DLG, e => getComputedStyle(e).backgroundColor)) >= 4.5);
  failPost = true;
  await page.click(act('accept-all'));
  await page.locator('.cg-err').waitFor({ state: 'visible', ...WAIT });
  check('error shown and banner kept open when POST fails', await page.isVisible(DLG) &&
    (await page.textContent('.cg-err')) === docs.nb.texts.error);
  failPost = false;
  log.length = 0;
  await page.click('[data-consent-allow="marketing"]');
  const e = await waitLog(x => x.method === 'POST');
  check('placeholder allow posts current granted + marketing', e?.action === 'save' && JSON.stringify(e.categories) === '["marketing"]', JSON.stringify(e));
  await page.waitForFunction(() => document.getElementById('held-frame').getAttribute('src'), null, WAIT);
  check('placeholder allow activates the iframe, removes the placeholder, leaves analytics held',
    await page.evaluate(() => !document.querySelector('.cg-placeholder') && !window.__activated));
  await ctx.close();
});

await step('consent mode', async () => {
  const { ctx, page } = await open('/nb?mode=advanced');
  await page.locator(DLG).waitFor({ state: 'visible', ...WAIT });
  await page.waitForFunction(() => window.__google === 1, null, WAIT);
  const dl = await page.evaluate(() => (window.dataLayer || []).map(a => [...a]));
  check('consent mode: default (denied) pushed first, advanced runs the Google tag while undecided',
    dl[0]?.[0] === 'consent' && dl[0][1] === 'default' && dl[0][2].analytics_storage === 'denied' && !(await page.evaluate(() => window.__activated)));
  await page.click(act('accept-all'));
  await page.waitForFunction(() => window.__activated === true, null, WAIT);
  const dl2 = await page.evaluate(() => (window.dataLayer || []).map(a => [...a]));
  const up = dl2.find(a => a[1] === 'update');
  check('consent mode: update granted pushed after the choice, Google tag not run twice',
    up && up[2].analytics_storage === 'granted' && up[2].ad_user_data === 'granted' && await page.evaluate(() => window.__google === 1));
  await ctx.close();
});

await browser.close();
server.close();
console.log(`${failed ? 'FAIL' : 'PASS'} e2e.banner_ui: ${failed} failed, ${((Date.now() - T0) / 1000).toFixed(1)} s, screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
