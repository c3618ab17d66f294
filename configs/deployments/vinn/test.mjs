// Vinn's own promises, after the common walk of tests/e2e/deployment.mjs: Google Analytics stays
// in the page but is held back until the visitor opts in to statistics (no "consent through
// browser settings"), and the gateway's own statistics count without any cookie.
export default async function vinn(h) {
  const { check, step, open, act, decide, dialogShown, settle, jar, sleep } = h;
  const [site] = h.sites;
  const pageViews = async () => {
    const m = await (await h.adminFetch('/metrics')).text();
    return Number((/cg_analytics_page_views_total\{site="vinn"\} (\d+)/.exec(m) || [])[1] || 0);
  };

  await step('Google Analytics held back', async () => {
    const { ctx, page, tr } = await open(site, '/');
    await dialogShown(page);
    const held = await page.$$eval('script', ss => ss.filter(s => /googletagmanager/.test(s.src || s.getAttribute('data-consent-src') || '')).map(s => ({ src: s.getAttribute('src'), type: s.type })));
    check('promise: the GA tag stays in the page but does not run before a choice', held.length > 0 && held.every(s => !s.src) && tr.length === 0, JSON.stringify(held));
    const before = await pageViews();
    await decide(page, act('reject-all'));
    await page.goto(`${site.origin}/tilbud`);
    await settle(page);
    await sleep(300);
    check('promise: after a refusal Google Analytics is never contacted and sets no cookie',
      tr.length === 0 && !(await jar(ctx, site)).some(n => n.startsWith('_ga')), tr.map(x => x.host).join(' '));
    const counted = await h.until(async () => (await pageViews()) > before, 5000, 200);
    check('promise: the gateway\'s own statistics still count the visit, without any cookie', counted, `${before} -> ${await pageViews()}`);
    await ctx.close();
  });

  await step('opt in to statistics', async () => {
    const { ctx, page, tr } = await open(site, '/');
    await dialogShown(page);
    const r = await decide(page, act('accept-all'));
    await settle(page);
    await sleep(300);
    check('promise: Google Analytics runs only after the visitor opts in to statistics',
      r.granted.includes('analytics') && tr.some(x => x.host.endsWith('googletagmanager.com')), tr.map(x => x.host).join(' '));
    await ctx.close();
  });
}
