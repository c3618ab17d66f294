// The statistics dashboard at /stats/: vanilla JS against docs/stats-api.md, charts by uPlot.
// The view (site, period, comparison, campaign grouping, language) lives in the query string.
'use strict';
(() => {
const T = {
  en: {
    skip: 'Skip to content', title: 'Statistics', lang: 'Language', logout: 'Log out', site: 'Site', range: 'Period',
    today: 'Today', d7: 'Last 7 days', d30: 'Last 30 days', m12: 'Last 12 months', custom: 'Custom range',
    from: 'From', to: 'To', compare: 'Compare with previous period', retry: 'Try again',
    badRange: 'Choose a start date on or before the end date, at most 400 days apart.',
    live: 'visitors in the last 5 minutes', live1: 'visitor in the last 5 minutes',
    colV: 'Visitors', colP: 'Views', summary: 'Summary', visitors: 'Unique visitors', page_views: 'Page views', visits: 'Visits',
    bounce_rate: 'Bounce rate', visit_duration_s: 'Visit duration', pages_per_visit: 'Pages per visit',
    sumNote: 'sum of daily visitors, ±{e}', up: 'up', down: 'down', prevWas: 'Previous period: {v}',
    vs: 'compared with {p}', dropped: '{n} page views could not be broken down (the statistics store was unreachable for too long): the tables below miss them.',
    chart: 'Visitors and page views', prev: '{s}, previous period', empty: 'No data for this period', loading: 'Loading…',
    error: 'Could not load the statistics: {e}', failed: 'Could not load this part.', noSites: 'No site has analytics turned on.',
    pages: 'Pages', 'pages.t': 'Top pages', 'entry-pages': 'Entry pages', sources: 'Sources', channels: 'Channels',
    referrers: 'Referrers', campaigns: 'Campaigns', locations: 'Locations', countries: 'Countries', devicesP: 'Devices',
    devices: 'Device type', browsers: 'Browsers', os: 'OS',
    'pages.c': 'Page', 'entry-pages.c': 'Page', 'referrers.c': 'Referrer', 'channels.c': 'Channel', 'countries.c': 'Country',
    'devices.c': 'Device', 'browsers.c': 'Browser', 'os.c': 'Operating system',
    source: 'Source', medium: 'Medium', campaign: 'Campaign', groupBy: 'Group campaigns by',
    other: 'Other (groups under {k} visitors)', none: '(none)', csvOf: ', {x}, as CSV',
    more: 'Show all {n}', less: 'Show fewer',
    consent: 'Consent', consentRate: 'Consent rate', categories: 'Opt-ins per category', category: 'Category', optIns: 'Opt-ins',
    shown: 'Banner shown', accept_all: 'Accept all', reject_all: 'Reject all', custom_c: 'Custom choice', gpc: 'Global Privacy Control',
    ch: { direct: 'Direct', 'organic search': 'Organic search', social: 'Social', email: 'Email', referral: 'Referral', campaign: 'Campaign' },
    dev: { desktop: 'Desktop', mobile: 'Mobile', tablet: 'Tablet' },
    cat: { necessary: 'Necessary', preferences: 'Preferences', analytics: 'Statistics', marketing: 'Marketing' },
  },
  nb: {
    skip: 'Hopp til innholdet', title: 'Statistikk', lang: 'Språk', logout: 'Logg ut', site: 'Nettsted', range: 'Periode',
    today: 'I dag', d7: 'Siste 7 dager', d30: 'Siste 30 dager', m12: 'Siste 12 måneder', custom: 'Egendefinert periode',
    from: 'Fra', to: 'Til', compare: 'Sammenlign med forrige periode', retry: 'Prøv igjen',
    badRange: 'Velg en startdato som ikke er etter sluttdatoen, høyst 400 dager fra hverandre.',
    live: 'besøkende de siste 5 minuttene', live1: 'besøkende de siste 5 minuttene',
    colV: 'Besøkende', colP: 'Visninger', summary: 'Sammendrag', visitors: 'Unike besøkende', page_views: 'Sidevisninger', visits: 'Besøk',
    bounce_rate: 'Fluktfrekvens', visit_duration_s: 'Besøkets varighet', pages_per_visit: 'Sider per besøk',
    sumNote: 'sum av daglige besøkende, ±{e}', up: 'opp', down: 'ned', prevWas: 'Forrige periode: {v}',
    vs: 'sammenlignet med {p}', dropped: '{n} sidevisninger kunne ikke fordeles (statistikklageret var utilgjengelig for lenge): tabellene under mangler dem.',
    chart: 'Besøkende og sidevisninger', prev: '{s}, forrige periode', empty: 'Ingen data for denne perioden', loading: 'Laster …',
    error: 'Kunne ikke laste statistikken: {e}', failed: 'Kunne ikke laste denne delen.', noSites: 'Ingen nettsteder har statistikk slått på.',
    pages: 'Sider', 'pages.t': 'Mest besøkte sider', 'entry-pages': 'Inngangssider', sources: 'Kilder', channels: 'Kanaler',
    referrers: 'Henvisere', campaigns: 'Kampanjer', locations: 'Steder', countries: 'Land', devicesP: 'Enheter',
    devices: 'Enhetstype', browsers: 'Nettlesere', os: 'OS',
    'pages.c': 'Side', 'entry-pages.c': 'Side', 'referrers.c': 'Henviser', 'channels.c': 'Kanal', 'countries.c': 'Land',
    'devices.c': 'Enhet', 'browsers.c': 'Nettleser', 'os.c': 'Operativsystem',
    source: 'Kilde', medium: 'Medium', campaign: 'Kampanje', groupBy: 'Grupper kampanjer etter',
    other: 'Andre (grupper under {k} besøkende)', none: '(ingen)', csvOf: ', {x}, som CSV',
    more: 'Vis alle {n}', less: 'Vis færre',
    consent: 'Samtykke', consentRate: 'Samtykkerate', categories: 'Samtykke per kategori', category: 'Kategori', optIns: 'Samtykker',
    shown: 'Banner vist', accept_all: 'Godta alle', reject_all: 'Avvis alle', custom_c: 'Eget valg', gpc: 'Global Privacy Control',
    ch: { direct: 'Direkte', 'organic search': 'Organisk søk', social: 'Sosiale medier', email: 'E-post', referral: 'Henvisning', campaign: 'Kampanje' },
    dev: { desktop: 'Datamaskin', mobile: 'Mobil', tablet: 'Nettbrett' },
    cat: { necessary: 'Nødvendige', preferences: 'Preferanser', analytics: 'Statistikk', marketing: 'Markedsføring' },
  },
};
const PANELS = [['pages', 'pages', 'entry-pages'], ['sources', 'channels', 'referrers', 'campaigns'],
  ['locations', 'countries'], ['devicesP', 'devices', 'browsers', 'os']];
const CARDS = ['visitors', 'page_views', 'visits', 'bounce_rate', 'visit_duration_s', 'pages_per_visit'];
const ROWS = 10;

const $ = id => document.getElementById(id);
const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...kids.flat().filter(x => x != null && x !== false));
  return e;
};
const S = { lang: 'en', langSet: false, site: '', range: '30d', from: '', to: '', compare: false, by: 'campaign', cur: [] };
const t = (k, vars = {}) => String(T[S.lang][k] ?? T.en[k] ?? k).replace(/\{(\w+)\}/g, (_, v) => vars[v]);
const loc = () => (S.lang === 'nb' ? 'nb-NO' : /^en-/.test(navigator.language) ? navigator.language : 'en-GB');
let F = {};
const fmt = (n, o) => (n == null || !isFinite(n) ? '—' : (F[JSON.stringify(o || 0)] ||= new Intl.NumberFormat(loc(), o)).format(n));
const nf = n => fmt(n);
const pct = (n, d = 0) => fmt(n, { style: 'percent', maximumFractionDigits: d });
const dur = s => (s == null ? '—' : `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`);
const FMT = { bounce_rate: n => pct(n), visit_duration_s: dur, pages_per_visit: n => fmt(n, { maximumFractionDigits: 1, minimumFractionDigits: 1 }) };

// ---- dates (YYYY-MM-DD in the site's time zone, computed as UTC days) --------------------------
const D = s => { const [y, m, d, h] = s.split(/\D/).map(Number); return new Date(Date.UTC(y, m - 1, d, h || 0)); };
const iso = d => d.toISOString().slice(0, 10);
const add = (s, n) => { const d = D(s); d.setUTCDate(d.getUTCDate() + n); return iso(d); };
const ndays = (a, b) => Math.round((D(b) - D(a)) / 864e5) + 1;
const okDate = s => /^\d{4}-\d{2}-\d{2}$/.test(s || '') && iso(D(s)) === s;
const dtf = o => (F['d' + JSON.stringify(o)] ||= new Intl.DateTimeFormat(loc(), { timeZone: 'UTC', ...o }));
const DAY = { day: 'numeric', month: 'short', year: 'numeric' };
const span = ([a, b]) => (a === b ? dtf(DAY).format(D(a)) : dtf(DAY).formatRange(D(a), D(b)));
const site = () => sites.find(s => s.name === S.site) || {};
function period() {
  const d = site().today;
  if (S.range === 'today') return [d, d];
  if (S.range === '7d') return [add(d, -6), d];
  if (S.range === '12mo') { const y = D(d); y.setUTCFullYear(y.getUTCFullYear() - 1); return [add(iso(y), 1), d]; }
  if (S.range === 'custom') return [S.from, S.to];
  return [add(d, -29), d];
}
const prevOf = ([a, b]) => { const n = ndays(a, b); return [add(a, -n), add(a, -1)]; };
const validRange = ([a, b]) => okDate(a) && okDate(b) && a <= b && ndays(a, b) <= 400;

// ---- URL state ----------------------------------------------------------------------------------
function readURL() {
  const q = new URLSearchParams(location.search);
  const l = q.get('lang');
  S.langSet = !!T[l];
  S.lang = T[l] ? l : /^(nb|nn|no)\b/i.test(navigator.language || '') ? 'nb' : 'en';
  S.site = q.get('site') || '';
  S.range = ['today', '7d', '30d', '12mo', 'custom'].includes(q.get('range')) ? q.get('range') : '30d';
  S.from = q.get('from') || ''; S.to = q.get('to') || '';
  S.compare = q.get('compare') === '1';
  S.by = ['source', 'medium', 'campaign'].includes(q.get('by')) ? q.get('by') : 'campaign';
}
function writeURL(push) {
  const p = new URLSearchParams({ site: S.site, range: S.range });
  if (S.range === 'custom') { p.set('from', S.from); p.set('to', S.to); }
  if (S.compare) p.set('compare', '1');
  if (S.by !== 'campaign') p.set('by', S.by);
  if (S.langSet) p.set('lang', S.lang);
  if ('?' + p !== location.search) history[push ? 'pushState' : 'replaceState'](null, '', '?' + p);
}

// ---- API ----------------------------------------------------------------------------------------
let sites = [], cache = new Map(), ctrl = new AbortController(), gen = 0;
const toLogin = () => location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
async function get(url) {
  const r = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store', signal: ctrl.signal });
  if (r.status === 401) { toLogin(); throw Object.assign(new Error('401'), { name: 'AbortError' }); }
  let b = null;
  try { b = await r.json(); } catch { /* not JSON */ }
  if (!r.ok || !b) throw new Error(b && b.error ? `${b.error} (${r.status})` : `HTTP ${r.status}`);
  return b;
}
const qs = (rep, [from, to] = S.cur, extra = {}) => `api/${rep}?` + new URLSearchParams({ site: S.site, from, to, ...(rep === 'campaigns' ? { by: S.by } : {}), ...extra });
function api(rep, range, extra) {
  const u = qs(rep, range, extra);
  if (!cache.has(u)) { const p = get(u).catch(e => { if (cache.get(u) === p) cache.delete(u); throw e; }); cache.set(u, p); }
  return cache.get(u);
}

// ---- page state: busy, errors --------------------------------------------------------------------
const failed = () => el('p', { class: 'empty', text: t('failed') });
function run(g, sec, fn, onFail) {
  sec.setAttribute('aria-busy', 'true');
  return fn().catch(e => {
    if (g !== gen || e.name === 'AbortError') return;
    $('alert-msg').textContent = t('error', { e: e.message });
    $('alert').hidden = false;
    sec.classList.add('failed');
    onFail();
  }).finally(() => { if (g === gen) sec.removeAttribute('aria-busy'); });
}
function load(fresh) {
  const g = ++gen;
  if (fresh) { ctrl.abort(); ctrl = new AbortController(); cache = new Map(); }
  if (!sites.some(s => s.name === S.site)) S.site = sites[0].name;
  S.cur = period();
  const bad = !validRange(S.cur);
  $('bad').hidden = !bad;
  syncControls();
  if (bad) return;
  writeURL(false);
  $('alert').hidden = true;
  document.querySelectorAll('.failed').forEach(e => e.classList.remove('failed'));
  $('period').textContent = span(S.cur) + (S.compare ? ' · ' + t('vs', { p: span(prevOf(S.cur)) }) : '');
  document.title = `${t('title')} · ${S.site}`;
  const sum = api('summary');
  run(g, $('sec-summary'), async () => { const d = await sum; if (g === gen) cards(d); }, () => $('cards').replaceChildren());
  run(g, $('sec-chart'), async () => {
    const [a, b] = await Promise.all([api('timeseries'), S.compare ? api('timeseries', prevOf(S.cur)) : null]);
    if (g === gen) mainChart(a, b);
  }, () => noChart('main', 'chart', t('failed')));
  run(g, $('sec-consent'), async () => { const d = await api('consent'); if (g === gen) consent(d); }, () => {
    $('totals').replaceChildren(); $('cats').replaceChildren(failed()); noChart('consent', 'cchart', t('failed'));
  });
  for (const p of document.querySelectorAll('.panel[data-tab]')) table(g, p, sum);
}

// ---- summary -------------------------------------------------------------------------------------
function cards(d) {
  const ul = $('cards');
  ul.replaceChildren(...CARDS.map(k => {
    const v = d[k], f = FMT[k] || nf;
    const li = el('li', { class: 'card', 'data-k': k }, el('span', { class: 'lbl', text: t(k) }), el('span', { class: 'val', text: f(v) }));
    if (S.compare && d.previous) {
      const p = d.previous[k];
      let ch = null, txt = '—';
      if (k === 'bounce_rate' && v != null && p != null) { ch = Math.round((v - p) * 1000) / 10; txt = fmt(Math.abs(ch), { maximumFractionDigits: 1 }) + ' pp'; }
      else if (v != null && p) { ch = Math.sign(v - p) * Math.round(Math.abs(v - p) / p * 100) / 100; txt = pct(Math.abs(ch)); }
      else if (v === 0 && p === 0) { ch = 0; txt = pct(0); }
      const dir = ch > 0 ? 'up' : ch < 0 ? 'down' : '';
      const good = !dir ? '' : (dir === 'up') !== (k === 'bounce_rate') ? 'good' : 'bad';
      li.append(el('span', { class: `chg ${good}`, title: t('prevWas', { v: f(p) }) },
        el('span', { 'aria-hidden': 'true', text: dir === 'up' ? '↑ ' : dir === 'down' ? '↓ ' : '' }),
        dir && el('span', { class: 'sr-only', text: t(dir) + ' ' }), txt,
        el('span', { class: 'sr-only', text: ', ' + t('prevWas', { v: f(p) }) })));
    }
    if (k === 'visitors' && d.visitors_kind === 'sum_of_daily') li.append(el('span', { class: 'note', text: t('sumNote', { e: pct(d.visitors_error || 0.0081, 1) }) }));
    return li;
  }));
  $('dropped').hidden = !(d.dropped > 0);
  $('dropped').textContent = d.dropped > 0 ? t('dropped', { n: nf(d.dropped) }) : '';
}
async function realtime() {
  if (!S.site || document.hidden) return;
  try {
    const d = await get('api/realtime?' + new URLSearchParams({ site: S.site }));
    const n = d.visitors_last_5_min;
    $('live-n').textContent = nf(n);
    $('live-t').textContent = t(n === 1 ? 'live1' : 'live');
    $('live').hidden = false;
  } catch { $('live').hidden = true; }
}

// ---- charts --------------------------------------------------------------------------------------
const charts = {};
const css = n => getComputedStyle(document.documentElement).getPropertyValue(n).trim();
const INCR = [1, 2, 5].flatMap(m => [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7].map(e => m * e)).sort((a, b) => a - b);
function plot(key, box, labels, series, data, yfmt, yrange) {
  charts[key]?.u.destroy();
  delete charts[key];
  const hourly = /T/.test(labels[0] || '');
  const tick = s => dtf(hourly ? { hour: '2-digit', minute: '2-digit' } : { day: 'numeric', month: 'short' }).format(D(s));
  const full = s => dtf(hourly ? { ...DAY, hour: '2-digit', minute: '2-digit' } : { weekday: 'short', ...DAY }).format(D(s));
  const ax = { stroke: css('--muted'), font: '12px system-ui, sans-serif', grid: { stroke: css('--grid'), width: 1 }, ticks: { show: false } };
  const h = () => (box.clientWidth < 500 ? 200 : 260);
  const u = new uPlot({
    width: box.clientWidth, height: h(),
    cursor: { drag: { x: false, y: false }, points: { size: 7 } },
    scales: { x: { time: false, range: (_, a, b) => (a === b ? [a - 1, b + 1] : [a, b]) }, y: { range: yrange || ((_, a, b) => [0, b > 0 ? b * 1.08 : 1]) } },
    axes: [
      { ...ax, size: 34, space: 64, incrs: hourly ? [1, 2, 3, 6, 12] : [1, 2, 7, 14, 28, 56, 91, 182, 364], values: (_, sp) => sp.map(i => (labels[i] ? tick(labels[i]) : '')) },
      { ...ax, size: 52, space: 36, incrs: yrange ? [10, 20, 25, 50] : INCR, values: (_, sp) => sp.map(yfmt) },
    ],
    series: [{ label: '', value: (_, i) => (i == null || !labels[i] ? '—' : full(labels[i])) }, ...series],
    hooks: { setLegend: [x => x.root.classList.toggle('idle', x.legend.idx == null)] },
  }, data, box);
  u.root.classList.toggle('idle', u.legend.idx == null);
  const w = u.root.querySelector('.u-wrap');
  w.setAttribute('role', 'img');
  w.setAttribute('aria-label', `${series.map(s => s.label).join(', ')}: ${span(S.cur)}`);
  charts[key] = { u, box, h, w: box.clientWidth };
}
const ro = new ResizeObserver(() => {
  for (const c of Object.values(charts)) {
    const w = c.box.clientWidth;
    if (w && w !== c.w) { c.w = w; c.u.setSize({ width: w, height: c.h() }); }
  }
});
function noChart(key, id, msg) {
  charts[key]?.u.destroy();
  delete charts[key];
  $(id).hidden = true;
  Object.assign($(id + '-empty'), { hidden: false, textContent: msg });
}
function mainChart(a, b) {
  const pts = a.points || [], has = pts.some(p => p.visitors || p.page_views);
  if (!has) return noChart('main', 'chart', t('empty'));
  $('chart-empty').hidden = true;
  $('chart').hidden = false;
  const c1 = css('--c1'), c2 = css('--c2'), v = n => (n == null ? '—' : nf(n));
  const series = [{ label: t('visitors'), stroke: c1, fill: css('--c1f'), width: 2, value: (_, n) => v(n) },
    { label: t('page_views'), stroke: c2, width: 2, value: (_, n) => v(n) }];
  const data = [pts.map((_, i) => i), pts.map(p => p.visitors), pts.map(p => p.page_views)];
  if (b) {
    const q = b.points || [];
    series.push({ label: t('prev', { s: t('visitors') }), stroke: c1, dash: [5, 4], width: 1.5, value: (_, n) => v(n) },
      { label: t('prev', { s: t('page_views') }), stroke: c2, dash: [5, 4], width: 1.5, value: (_, n) => v(n) });
    data.push(pts.map((_, i) => q[i]?.visitors ?? null), pts.map((_, i) => q[i]?.page_views ?? null));
  }
  plot('main', $('chart'), pts.map(p => p.t), series, data, n => fmt(n, { notation: 'compact' }));
}

// ---- tables --------------------------------------------------------------------------------------
let dn;
const label = (rep, name) => {
  if (name === '' || name == null) return [t('none')];
  if (rep === 'channels') return [T[S.lang].ch[name] || name];
  if (rep === 'devices') return [T[S.lang].dev[name] || name];
  if (rep === 'countries') {
    let n = name;
    try { n = (dn ||= new Intl.DisplayNames([loc()], { type: 'region' })).of(name) || name; } catch { /* not a region code */ }
    return [n, name];
  }
  return [name];
};
function grid(caption, cols, rows, total) {
  const bar = v => { const b = el('span', { class: 'bar', 'aria-hidden': 'true' }); b.style.width = Math.min(100, total ? (100 * v) / total : 0) + '%'; return b; };
  return el('table', {}, el('caption', { class: 'sr-only', text: caption }),
    el('thead', {}, el('tr', {}, cols.map((c, i) => el('th', { scope: 'col', text: c, class: i ? 'n' : null })))),
    el('tbody', {}, rows.map(r => el('tr', { class: r.cls },
      el('th', { scope: 'row' }, bar(r.v[0]), el('span', { class: 'nm', title: r.name[0] }, r.name[0], r.name[1] && el('span', { class: 'code', text: r.name[1] }))),
      r.v.map(x => el('td', { class: 'n', text: nf(x) }))))));
}
function table(g, panel, sum) {
  const rep = panel.dataset.tab, box = panel.querySelector(`[data-rep="${rep}"] .tbl`), two = rep === 'entry-pages' ? 'visits' : 'page_views';
  panel.classList.remove('failed');
  const a = panel.querySelector(`[data-rep="${rep}"] a.csv`);
  a.href = qs(rep, S.cur, { format: 'csv' });
  a.setAttribute('download', `${rep}${rep === 'campaigns' ? '-' + S.by : ''}-${S.site}-${S.cur[0]}-${S.cur[1]}.csv`);
  if (!box.firstChild) box.append(el('p', { class: 'empty', text: t('loading') }));
  return run(g, panel, async () => {
    const d = await api(rep);
    const total = await sum.then(s => s.visitors, () => 0);
    if (g !== gen) return;
    const rows = (d.rows || []).map(r => ({ name: label(rep, r.name), v: [r.visitors, r[two]] }));
    if (!rows.length && !d.other) { box.replaceChildren(el('p', { class: 'empty', text: t('empty') })); return; }
    const max = total || Math.max(1, ...rows.map(r => r.v[0]));
    const open = box.dataset.open === '1', show = open ? rows : rows.slice(0, ROWS);
    if (d.other) show.push({ name: [t('other', { k: d.k ?? site().k })], v: [d.other.visitors, d.other[two]], cls: 'other' });
    const c = rep === 'campaigns' ? t(S.by) : t(rep + '.c');
    const kids = [grid(`${t(rep === 'pages' ? 'pages.t' : rep)}: ${span(S.cur)}`, [c, t('colV'), t(two === 'visits' ? 'visits' : 'colP')], show, max)];
    if (rows.length > ROWS) {
      kids.push(el('button', { type: 'button', class: 'link', 'aria-expanded': String(open), text: open ? t('less') : t('more', { n: nf(rows.length) }),
        onclick: () => { box.dataset.open = open ? '' : '1'; table(gen, panel, sum).then(() => box.querySelector('button.link')?.focus()); } }));
    }
    box.replaceChildren(...kids);
  }, () => box.replaceChildren(failed()));
}
function buildPanels() {
  $('panels').replaceChildren(...PANELS.map(([h, ...tabs]) => {
    const sec = el('section', { class: 'panel', 'aria-labelledby': 'h-' + h, 'data-tab': tabs[0] });
    const list = tabs.length > 1 && el('div', { role: 'tablist', 'aria-labelledby': 'h-' + h, class: 'tabs' }, tabs.map((r, i) =>
      el('button', { type: 'button', role: 'tab', id: 'tab-' + r, 'aria-controls': 'tp-' + r, 'aria-selected': String(!i), tabindex: i ? '-1' : '0', 'data-t': r === 'pages' ? 'pages.t' : r, onclick: e => pick(e.currentTarget) })));
    const pick = b => {
      for (const x of list.children) { const on = x === b; x.setAttribute('aria-selected', String(on)); x.tabIndex = on ? 0 : -1; $(x.getAttribute('aria-controls')).hidden = !on; }
      sec.dataset.tab = b.id.slice(4);
      table(gen, sec, api('summary'));
    };
    list && list.addEventListener('keydown', e => {
      const bs = [...list.children], i = bs.indexOf(document.activeElement);
      let j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: bs.length - 1 }[e.key];
      if (j === undefined || i < 0) return;
      e.preventDefault();
      j = (j + bs.length) % bs.length;
      bs[j].focus();
      pick(bs[j]);
    });
    const by = el('div', { class: 'seg', role: 'group', 'data-ta': 'groupBy' }, ['source', 'medium', 'campaign'].map(v => el('button', {
      type: 'button', 'data-by': v, 'data-t': v, 'aria-pressed': String(S.by === v),
      onclick: () => { S.by = v; writeURL(true); by.querySelectorAll('button').forEach(x => x.setAttribute('aria-pressed', String(x === by.querySelector(`[data-by="${v}"]`)))); table(gen, sec, api('summary')); } })));
    sec.append(el('div', { class: 'ph' }, el('h2', { id: 'h-' + h, 'data-t': h }), list),
      ...tabs.map((r, i) => el('div', list ? { role: 'tabpanel', id: 'tp-' + r, 'aria-labelledby': 'tab-' + r, tabindex: '0', hidden: !!i, 'data-rep': r } : { 'data-rep': r },
        r === 'campaigns' && by, el('div', { class: 'tbl' }),
        el('p', { class: 'foot' }, el('a', { class: 'csv', href: '#' }, 'CSV', el('span', { class: 'sr-only', 'data-csv': r }))))));
    return sec;
  }));
}

// ---- consent -------------------------------------------------------------------------------------
function consent(d) {
  const tt = d.totals || {};
  $('totals').replaceChildren(...['shown', 'accept_all', 'reject_all', 'custom', 'gpc'].map(k =>
    el('div', {}, el('dt', { text: t(k === 'custom' ? 'custom_c' : k) }), el('dd', { text: nf(tt[k] ?? 0) }))),
    el('div', { class: 'rate' }, el('dt', { text: t('consentRate') }), el('dd', { text: pct(tt.consent_rate) })));
  const dec = (tt.accept_all || 0) + (tt.reject_all || 0) + (tt.custom || 0);
  const cats = d.categories || [];
  $('cats').replaceChildren(cats.length ? grid(t('categories'), [t('category'), t('optIns')],
    cats.map(c => ({ name: [T[S.lang].cat[c.name] || c.name], v: [c.opt_in] })), Math.max(dec, ...cats.map(c => c.opt_in)))
    : el('p', { class: 'empty', text: t('empty') }));
  const days = d.days || [], has = days.some(x => x.consent_rate != null);
  if (!has) return noChart('consent', 'cchart', t('empty'));
  $('cchart-empty').hidden = true;
  $('cchart').hidden = false;
  plot('consent', $('cchart'), days.map(x => x.date), [{ label: t('consentRate'), stroke: css('--c1'), fill: css('--c1f'), width: 2,
    spanGaps: false, value: (_, n) => (n == null ? '—' : pct(n / 100)) }],
  [days.map((_, i) => i), days.map(x => (x.consent_rate == null ? null : Math.round(x.consent_rate * 1000) / 10))], n => pct(n / 100), [0, 100]);
}

// ---- controls ------------------------------------------------------------------------------------
function texts() {
  document.documentElement.lang = S.lang;
  F = {}; dn = null;
  document.querySelectorAll('[data-t]').forEach(e => { e.textContent = t(e.dataset.t); });
  document.querySelectorAll('[data-ta]').forEach(e => e.setAttribute('aria-label', t(e.dataset.ta)));
  document.querySelectorAll('[data-csv]').forEach(e => { e.textContent = t('csvOf', { x: t(e.dataset.csv === 'pages' ? 'pages.t' : e.dataset.csv) }); });
}
function syncControls() {
  $('lang').value = S.lang;
  $('site').value = S.site;
  $('range').value = S.range;
  $('custom').hidden = S.range !== 'custom';
  $('compare').checked = S.compare;
  const td = site().today;
  for (const i of [$('from'), $('to')]) { i.max = td; i.min = add(td, -3650); }
  if (S.range === 'custom') { $('from').value = S.from; $('to').value = S.to; }
  document.querySelectorAll('[data-by]').forEach(b => b.setAttribute('aria-pressed', String(b.dataset.by === S.by)));
}
function change(fresh = true) { writeURL(true); load(fresh); }
function wire() {
  $('controls').addEventListener('submit', e => e.preventDefault());
  $('site').addEventListener('change', e => { S.site = e.target.value; change(); realtime(); });
  $('range').addEventListener('change', e => {
    const [a, b] = S.cur;
    S.range = e.target.value;
    if (S.range === 'custom' && !S.from) { S.from = a; S.to = b; }
    change();
  });
  for (const i of [$('from'), $('to')]) i.addEventListener('change', () => { S.from = $('from').value; S.to = $('to').value; change(); });
  $('compare').addEventListener('change', e => { S.compare = e.target.checked; change(false); });
  $('lang').addEventListener('change', e => { S.lang = e.target.value; S.langSet = true; texts(); change(false); realtime(); });
  $('retry').addEventListener('click', () => start());
  addEventListener('popstate', () => { readURL(); texts(); if (sites.length) load(true); });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => load(false));
  document.addEventListener('visibilitychange', realtime);
  setInterval(realtime, 30000);
  ro.observe($('chart'));
  ro.observe($('cchart'));
}
async function start() {
  $('alert').hidden = true;
  try {
    sites = (await get('api/sites')).sites || [];
  } catch (e) {
    if (e.name === 'AbortError') return;
    $('alert-msg').textContent = t('error', { e: e.message });
    $('alert').hidden = false;
    return;
  }
  if (!sites.length) { $('alert-msg').textContent = t('noSites'); $('alert').hidden = false; $('retry').hidden = true; return; }
  $('site').replaceChildren(...sites.map(s => el('option', { value: s.name, text: s.hosts?.length ? `${s.name} (${s.hosts[0]})` : s.name })));
  load(true);
  realtime();
}
readURL();
buildPanels();
texts();
wire();
start();
})();
