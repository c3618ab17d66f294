/* consent-gateway banner: vanilla ES2020, no dependencies. DESIGN.md §3 (L, T, N, A) and §5. */
(() => {
  'use strict';
  const W = window, d = document;
  const S = d.currentScript || d.getElementById('cg-banner-script');
  if (!S || W.cgConsent) return;
  const D = S.dataset, nonce = S.nonce || S.getAttribute('nonce') || '';
  const mode = D.consentMode || 'off', gpc = D.gpc === '1';
  const words = s => (s || '').split(/\s+/).filter(Boolean);
  const langs = words(D.languages);
  let decided = D.decided === '1';
  let granted = new Set(['necessary', ...words(D.granted)]);
  let doc, T = {}, root, dlg, L1, L2, err, live, reo, layer = 0, back1 = false, prevFocus, busy = false, sw = [];
  const done = new WeakSet();

  const pick = l => {
    l = (l || '').toLowerCase().split(/[-_]/)[0];
    if (l === 'no' && !langs.includes('no')) l = 'nb';
    return langs.includes(l) ? l : '';
  };
  const lang = pick(d.documentElement.lang) || (navigator.languages || [navigator.language]).map(pick).find(Boolean) ||
    D.defaultLanguage || langs[0] || 'en';

  const t = k => (T[k] || '').split('{controller}').join((doc && doc.controller && doc.controller.name) || '');
  const safeUrl = u => (/^(https?:\/\/|\/(?!\/)|mailto:)/i.test(u || '') ? u : null);

  function h(tag, a, ...kids) {
    const e = d.createElement(tag);
    for (const k in a || {}) {
      const v = a[k];
      if (v == null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'on') e.addEventListener('click', v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    e.append(...kids.filter(x => x != null && x !== false && x !== ''));
    return e;
  }

  /* Google consent mode */
  const GM = { analytics: ['analytics_storage'], marketing: ['ad_storage', 'ad_user_data', 'ad_personalization'],
    preferences: ['functionality_storage', 'personalization_storage'] };
  const gtag = (...a) => { if (typeof W.gtag === 'function') W.gtag(...a); };
  function gUpdate() {
    if (mode === 'off') return;
    const u = {};
    for (const c in GM) for (const k of GM[c]) u[k] = granted.has(c) ? 'granted' : 'denied';
    gtag('consent', 'update', u);
  }

  /* Held elements */
  const HELD = 'script[type="text/plain" i][data-consent-category],[data-consent-src],[data-consent-srcset],' +
    '[data-consent-href],[data-consent-poster],[data-consent-data]';
  const ATTRS = ['src', 'srcset', 'href', 'poster', 'data'];
  const allowed = s => { const c = words(s); return c.length > 0 && c.every(x => granted.has(x)); };
  const catOf = el => { const c = el.closest('[data-consent-category]'); return c ? c.getAttribute('data-consent-category') : ''; };
  let chain = Promise.resolve();

  function runScript(old) {
    const s = d.createElement('script');
    for (const a of old.attributes) if (a.name !== 'type' && a.name !== 'nonce' && !a.name.startsWith('data-consent-')) s.setAttribute(a.name, a.value);
    const ty = old.getAttribute('data-consent-type'), src = old.getAttribute('data-consent-src');
    if (ty) s.type = ty;
    s.nonce = nonce;
    let p = null;
    if (src) {
      s.async = false;
      p = new Promise(r => { s.onload = s.onerror = r; setTimeout(r, 8000); });
      s.src = src;
    } else s.text = old.text;
    if (old.parentNode) old.replaceWith(s); else d.head.append(s);
    return p;
  }

  function activate(google) {
    for (const el of d.querySelectorAll(HELD)) {
      if (done.has(el) || (root && root.contains(el))) continue;
      if (!allowed(catOf(el)) && !(google && el.closest('[data-consent-google]'))) continue;
      done.add(el);
      if (el.tagName === 'SCRIPT') { chain = chain.then(() => runScript(el)).catch(() => {}); continue; }
      for (const a of ATTRS) {
        const v = el.getAttribute('data-consent-' + a);
        if (v != null) el.setAttribute(a, v);
      }
      for (const a of [...el.attributes]) if (a.name.startsWith('data-consent-')) el.removeAttribute(a.name);
      const par = el.parentElement;
      if (/^(SOURCE|TRACK)$/.test(el.tagName) && par && par.load) par.load();
    }
    for (const p of d.querySelectorAll('.cg-placeholder[data-consent-placeholder]'))
      if (allowed(p.getAttribute('data-consent-placeholder'))) p.remove();
  }

  /* Erasing script-set storage of withdrawn categories (L6) */
  const match = (pats, n) => pats.some(p => (p.endsWith('*') ? n.startsWith(p.slice(0, -1)) : n === p));
  function erase(cats) {
    const ck = [], ls = [];
    for (const c of (doc && doc.categories) || []) if (cats.includes(c.id) && c.erase) {
      ck.push(...(c.erase.cookies || [])); ls.push(...(c.erase.local_storage || []));
    }
    const host = location.hostname, doms = [''];
    if (!/^[\d.]+$|:/.test(host)) {
      const p = host.split('.');
      for (let i = 0; i < p.length - 1; i++) doms.push('; domain=' + p.slice(i).join('.'));
    }
    const paths = ['/'], seg = location.pathname.split('/');
    for (let i = 2; i <= seg.length; i++) paths.push(seg.slice(0, i).join('/') || '/');
    for (const c of d.cookie.split(';')) {
      const n = c.split('=')[0].trim();
      if (!n || !match(ck, n)) continue;
      for (const dm of doms) for (const pa of paths) d.cookie = n + '=; Max-Age=0; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=' + pa + dm;
    }
    for (const st of ['localStorage', 'sessionStorage']) {
      try {
        const s = W[st];
        for (const k of Object.keys(s)) if (match(ls, k)) s.removeItem(k);
      } catch (e) { /* storage may be blocked */ }
    }
  }

  /* Talking to the gateway */
  async function api(method, path, body) {
    const o = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body) { o.headers['Content-Type'] = 'application/json'; o.body = JSON.stringify(body); }
    const r = await fetch(path, o);
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.error || r.status);
    return j;
  }

  async function choose(body) {
    if (busy) return;
    busy = true;
    if (dlg) dlg.setAttribute('aria-busy', 'true');
    body.language = doc ? doc.language || lang : lang;
    try {
      const j = await api('POST', '/_consent', body);
      if (!Array.isArray(j.granted)) throw new Error('bad answer');
      const prev = granted;
      granted = new Set(['necessary', ...j.granted]);
      decided = true;
      const gone = [...prev].filter(c => !granted.has(c));
      close();
      say(t('saved'));
      if (gone.length) { erase(gone); location.reload(); return; }
      gUpdate();
      activate(false);
    } catch (e) {
      if (err) { err.textContent = t('error') || 'Error'; err.hidden = false; }
    } finally {
      busy = false;
      if (dlg) dlg.removeAttribute('aria-busy');
    }
  }

  const say = m => { if (live && m) { live.textContent = ''; setTimeout(() => { live.textContent = m; }, 50); } };

  /* Dialog */
  const btn = (act, txt, x) => h('button', Object.assign({ type: 'button', class: 'cg-btn', 'data-consent-action': act, text: txt }, x));
  const acts = (...b) => h('div', { class: 'cg-acts' }, ...b);
  const choiceBtns = () => [btn('accept-all', t('accept_all')), btn('reject-all', t('reject_all'))];

  function build() {
    const c = doc.controller || {}, cats = doc.categories || [];
    const link = (href, txt) => { const u = safeUrl(href); return u ? h('a', { href: u, class: 'cg-a', text: txt }) : null; };
    const contact = c.contact ? link(/^[^/:]+@/.test(c.contact) ? 'mailto:' + c.contact : c.contact, c.contact) || c.contact : null;
    const tps = cats.filter(x => (x.third_parties || []).length).map(x => x.name + ' (' + x.third_parties.map(v => v.vendor).join(', ') + ')');
    const sep = () => h('span', { 'aria-hidden': 'true', class: 'cg-sep', text: ' · ' });
    const decl = link(doc.declaration_url, t('declaration'));

    L1 = h('div', { class: 'cg-l cg-l1' },
      h('div', { class: 'cg-body' },
        h('h2', { id: 'cg-title', class: 'cg-h', text: t('title') }),
        h('p', { id: 'cg-intro', text: t('intro') }),
        h('p', { class: 'cg-meta' }, t('controller') + ': ', h('strong', { text: c.name }),
          contact && sep(), contact, c.privacy_url && sep(), link(c.privacy_url, t('privacy_policy')), decl && sep(), decl && decl.cloneNode(true)),
        tps.length ? h('p', { class: 'cg-meta' }, t('third_parties') + ': ' + tps.join('; ')) : null,
        gpc && T.gpc_notice ? h('p', { class: 'cg-note', text: t('gpc_notice') }) : null),
      acts(...choiceBtns(), btn('settings', t('settings'))));

    sw = [];
    const catEls = cats.map(x => {
      const id = 'cg-c-' + x.id, req = !!x.required;
      const box = h('input', { type: 'checkbox', id, class: 'cg-sw', 'data-consent-category': x.id, 'aria-describedby': id + '-d',
        disabled: req, checked: req });
      if (!req) sw.push(box);
      const ck = x.cookies || [], tp = x.third_parties || [];
      const row = (k, v) => [h('dt', { text: t(k) }), h('dd', { text: v || '–' })];
      const more = ck.length || tp.length ? h('details', { class: 'cg-det' },
        h('summary', { text: t('cookies') + ' (' + ck.length + ')' + (tp.length ? ' · ' + t('third_parties') + ' (' + tp.length + ')' : '') }),
        ck.length ? h('ul', { class: 'cg-ck' }, ...ck.map(k => h('li', null, h('dl', null,
          ...row('name', k.name), ...row('provider', k.provider), ...row('purpose', k.purpose), ...row('lifetime', k.lifetime))))) : null,
        tp.length ? h('div', null, h('h4', { class: 'cg-h4', text: t('third_parties') }),
          h('ul', { class: 'cg-tp' }, ...tp.map(v => h('li', null, h('strong', { text: v.vendor }), v.purpose ? ' – ' + v.purpose : '')))) : null) : null;
      return h('section', { class: 'cg-cat' },
        h('div', { class: 'cg-ch' }, h('label', { for: id, class: 'cg-cn', text: x.name }),
          req ? h('span', { class: 'cg-on', text: t('always_on') }) : null, box),
        h('p', { id: id + '-d', class: 'cg-desc', text: x.description }), more);
    });

    const rights = h('section', { class: 'cg-rights' },
      h('h3', { class: 'cg-h3', text: t('your_choice') }),
      h('p', { class: 'cg-cur', text: '…' }),
      h('p', { class: 'cg-id', hidden: true }),
      h('div', { class: 'cg-ra' },
        h('a', { href: '/_consent/record', download: true, class: 'cg-a', text: t('download_record') }),
        h('button', { type: 'button', class: 'cg-btn cg-sm', 'data-consent-action': 'delete', text: t('delete_record') })),
      h('div', { class: 'cg-conf', hidden: true, role: 'group' },
        h('p', { text: t('delete_confirm') }),
        h('div', { class: 'cg-ra' },
          h('button', { type: 'button', class: 'cg-btn cg-sm', 'data-consent-action': 'delete-confirm', text: T.confirm ? t('confirm') : t('delete_record') }),
          h('button', { type: 'button', class: 'cg-btn cg-sm', 'data-consent-action': 'delete-cancel', text: T.cancel ? t('cancel') : t('close') }))));

    L2 = h('div', { class: 'cg-l cg-l2', hidden: true },
      h('div', { class: 'cg-top' },
        h('h2', { id: 'cg-stitle', class: 'cg-h', text: t('settings_title') }),
        h('button', { type: 'button', class: 'cg-x', 'aria-label': t('close'), 'data-consent-action': 'close' },
          h('span', { 'aria-hidden': 'true', text: '×' }))),
      h('div', { class: 'cg-body' },
        h('p', { id: 'cg-sintro', text: t('settings_intro') }),
        ...catEls, rights, decl ? h('p', { class: 'cg-meta' }, decl) : null),
      acts(...choiceBtns(), btn('save', t('save'))));

    err = h('p', { class: 'cg-err', role: 'alert', hidden: true });
    dlg = h('div', { class: 'cg-dlg', role: 'dialog', 'aria-modal': 'false', tabindex: '-1', lang: doc.language || lang, hidden: true }, L1, L2);
    live = h('div', { class: 'cg-vh', role: 'status', 'aria-live': 'polite' });
    const pos = D.reopen || doc.reopen || 'bottom-left';
    reo = h('button', { type: 'button', class: 'cg-reopen cg-' + (pos === 'bottom-right' ? 'br' : 'bl'), 'aria-label': t('reopen'),
      title: t('reopen'), hidden: true });
    const svg = (n, a) => { const e = d.createElementNS('http://www.w3.org/2000/svg', n); for (const k in a) e.setAttribute(k, a[k]); return e; };
    const ic = svg('svg', { viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' });
    ic.append(svg('path', { d: 'M12 3a9 9 0 1 0 9 9 3 3 0 0 1-3.5-3A3 3 0 0 1 14 5.5 3 3 0 0 1 12 3z' }),
      svg('path', { class: 'cg-dot', d: 'M8.5 10h.01M10.5 15h.01M15 14.5h.01M12.5 11h.01' }));
    reo.append(ic);
    if (pos === 'none') reo = null;
    root = h('div', { class: 'cg-root', lang: doc.language || lang, dir: 'ltr' }, dlg, live, reo);
    d.body.append(root);

    dlg.addEventListener('click', onClick);
    dlg.addEventListener('keydown', onKey);
    if (reo) reo.addEventListener('click', () => show(2));
  }

  function onClick(e) {
    const b = e.target.closest('[data-consent-action]');
    if (!b || b.tagName === 'INPUT') return;
    const a = b.getAttribute('data-consent-action'), conf = dlg.querySelector('.cg-conf');
    if (a === 'accept-all' || a === 'reject-all') choose({ action: a });
    else if (a === 'save') choose({ action: 'save', categories: sw.filter(x => x.checked).map(x => x.getAttribute('data-consent-category')) });
    else if (a === 'settings') show(2);
    else if (a === 'close') back();
    else if (a === 'delete') { conf.hidden = false; conf.querySelector('button').focus(); }
    else if (a === 'delete-cancel') { conf.hidden = true; dlg.querySelector('[data-consent-action="delete"]').focus(); }
    else if (a === 'delete-confirm') del();
  }

  async function del() {
    if (busy) return;
    busy = true;
    try {
      await api('DELETE', '/_consent/record');
      say(t('deleted'));
      erase([...granted].filter(c => c !== 'necessary'));
      setTimeout(() => location.reload(), 300);
    } catch (e) {
      err.textContent = t('error'); err.hidden = false; busy = false;
    }
  }

  const focusables = () => [...(layer === 1 ? L1 : L2).querySelectorAll('a[href],button,input,summary,select,textarea,[tabindex]:not([tabindex="-1"])')]
    .filter(x => !x.disabled && x.getClientRects().length);

  function onKey(e) {
    if (e.key === 'Escape' || e.key === 'Esc') {
      if (layer === 2) { e.preventDefault(); e.stopPropagation(); back(); }
      return;
    }
    if (e.key !== 'Tab') return;
    const f = focusables(), a = d.activeElement;
    if (!f.length) return;
    const first = f[0], last = f[f.length - 1];
    if (e.shiftKey && (a === first || a === dlg)) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && a === last) { e.preventDefault(); first.focus(); }
  }

  async function fillState() {
    const cur = L2.querySelector('.cg-cur'), idp = L2.querySelector('.cg-id'), del = L2.querySelector('[data-consent-action="delete"]');
    L2.querySelector('.cg-conf').hidden = true;
    del.hidden = !decided;
    try {
      const s = await api('GET', '/_consent/state');
      del.hidden = !s.decided;
      const names = (s.granted || []).map(g => ((doc.categories || []).find(c => c.id === g) || { name: g }).name);
      cur.textContent = s.decided ? names.join(', ') : t('not_decided');
      idp.hidden = !s.consent_id;
      idp.textContent = s.consent_id ? t('consent_id') + ': ' : '';
      if (s.consent_id) idp.append(h('code', { text: s.consent_id }));
    } catch (e) {
      cur.textContent = decided ? [...granted].join(', ') : t('not_decided');
    }
  }

  function show(n) {
    if (!dlg) return;
    if (!layer) {
      const a = d.activeElement;
      prevFocus = a && a !== d.body && !root.contains(a) ? a : null;
    }
    if (n === 2) {
      back1 = !decided || layer === 1;
      for (const x of sw) x.checked = decided && granted.has(x.getAttribute('data-consent-category'));
      fillState();
    }
    layer = n;
    L1.hidden = n !== 1;
    L2.hidden = n !== 2;
    err.hidden = true;
    (n === 1 ? L1 : L2).querySelector('.cg-acts').before(err);
    dlg.classList.toggle('cg-wide', n === 2);
    dlg.setAttribute('aria-labelledby', n === 1 ? 'cg-title' : 'cg-stitle');
    dlg.setAttribute('aria-describedby', n === 1 ? 'cg-intro' : 'cg-sintro');
    dlg.hidden = false;
    if (reo) reo.hidden = true;
    dlg.focus({ preventScroll: true });
  }

  function back() {
    if (layer !== 2) return;
    if (back1 && !decided) { show(1); const s = L1.querySelector('[data-consent-action="settings"]'); if (s) s.focus(); }
    else close();
  }

  function close() {
    if (!dlg || !layer) return;
    layer = 0;
    dlg.hidden = true;
    if (reo) reo.hidden = false;
    const f = prevFocus && prevFocus.isConnected ? prevFocus : reo;
    if (f) f.focus({ preventScroll: true });
  }

  /* Page-wide hooks: re-open links and placeholder allow buttons */
  d.addEventListener('click', e => {
    const o = e.target.closest && e.target.closest('[data-consent-open]');
    if (o && !(root && root.contains(o))) { e.preventDefault(); show(2); return; }
    const a = e.target.closest && e.target.closest('[data-consent-allow]');
    if (a) {
      e.preventDefault();
      const cats = [...granted].filter(c => c !== 'necessary');
      for (const c of words(a.getAttribute('data-consent-allow'))) if (!cats.includes(c)) cats.push(c);
      choose({ action: 'save', categories: cats });
    }
  });

  async function load() {
    for (const l of [lang, D.defaultLanguage || lang]) {
      try {
        const r = await fetch((D.doc || '').split('{lang}').join(l), { credentials: 'same-origin' });
        if (r.ok) return await r.json();
      } catch (e) { /* then the default language */ }
      await new Promise(r => setTimeout(r, 400));
    }
    return null;
  }

  W.cgConsent = { open: () => show(2), state: () => ({ decided, granted: [...granted] }) };

  try {
    d.documentElement.classList.add('cg-js');
    if (mode !== 'off') {
      W.dataLayer = W.dataLayer || [];
      if (typeof W.gtag !== 'function') W.gtag = function () { W.dataLayer.push(arguments); };
      gtag('consent', 'default', { ad_storage: 'denied', ad_user_data: 'denied', ad_personalization: 'denied',
        analytics_storage: 'denied', functionality_storage: 'denied', personalization_storage: 'denied',
        security_storage: 'granted', wait_for_update: 500 });
      if (decided) gUpdate();
    }
    activate(mode === 'advanced');
  } catch (e) { /* never break the page */ }

  load().then(j => {
    if (!j || !j.texts) return;
    doc = j; T = j.texts;
    build();
    if (decided) { if (reo) reo.hidden = false; } else show(1);
  }).catch(() => {});
})();
