// Næringstjenester's own promises, after the common walk of tests/e2e/deployment.mjs: advertising
// cookies and ad-network scripts only after marketing consent, statistics only after analytics
// consent (no consent "by using the website"), the statement's lifetimes of one year and three
// months, and Global Privacy Control honoured.
export default async function naeringstjenester(h) {
  const { check, step, open, dialogShown, saveChoice, settle, sleep, state } = h;
  const [site] = h.sites;
  const days = c => (c.expires - Date.now() / 1000) / 86400;

  await step('statistics without advertising', async () => {
    const { ctx, page, tr } = await open(site, '/');
    await page.click('a[href="/for-bedrifter"]').catch(() => page.goto(`${site.origin}/for-bedrifter`));
    await settle(page);
    check('promise: browsing the website is no consent (nothing optional after two pages)', tr.length === 0 && h.optional(site, await h.jar(ctx, site)).length === 0);
    await dialogShown(page);
    const r = await saveChoice(page, ['analytics']);
    await page.waitForLoadState('load');
    await page.goto(`${site.origin}/`);
    await settle(page);
    await sleep(300);
    const cats = new Set(tr.map(x => x.category));
    const cookies = await ctx.cookies(site.origin);
    check('promise: statistics consent loads statistics and no ad network', JSON.stringify(r.granted) === '["necessary","analytics"]' && cats.has('analytics') && !cats.has('marketing'),
      [...cats].join(','));
    check('promise: no advertising cookie without marketing consent', !cookies.some(c => ['_fbp', '_gcl_au', 'IDE', 'fr'].includes(c.name)), cookies.map(c => c.name).join(','));
    const ga = cookies.find(c => c.name === '_ga');
    check('promise: the statistics cookie lives one year, as the statement says', !!ga && days(ga) > 360 && days(ga) <= 366, ga ? `${days(ga).toFixed(1)} days` : 'no _ga');
    const t = Date.now();
    await saveChoice(page, ['analytics', 'marketing']);
    await settle(page);
    await page.goto(`${site.origin}/for-bedrifter`);  // the site's own Set-Cookie comes with a page
    await settle(page);
    await sleep(300);
    const later = new Set(tr.filter(x => x.t > t).map(x => x.category));
    const fbp = (await ctx.cookies(site.origin)).find(c => c.name === '_fbp');
    check('promise: ad-network scripts load after marketing consent', later.has('marketing'), [...later].join(','));
    check('promise: the advertising cookie lives three months, as the statement says', !!fbp && days(fbp) > 85 && days(fbp) <= 92, fbp ? `${days(fbp).toFixed(1)} days` : 'no _fbp');
    await ctx.close();
  });

  await step('Global Privacy Control', async () => {
    const { ctx, page, tr } = await open(site, '/', { extraHTTPHeaders: { 'Sec-GPC': '1' } });
    await settle(page);
    const s = await state(page);
    check('promise: GPC is honoured as a refusal of marketing', s.gpc === true && !(s.granted || []).includes('marketing') && tr.every(x => x.category !== 'marketing'),
      JSON.stringify({ gpc: s.gpc, granted: s.granted, refused: s.refused }));
    await ctx.close();
  });
}
