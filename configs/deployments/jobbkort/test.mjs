// Jobbkort's own promises, after the common walk of tests/e2e/deployment.mjs: the legal basis per
// category as the statement names it, every necessary cookie justified, Google's advertising
// cookies only under marketing consent.
export default async function jobbkort(h) {
  const { check, step, open, dialogShown, saveChoice, settle, sleep } = h;
  const [site] = h.sites;

  await step('legal basis', async () => {
    const { ctx, page } = await open(site, '/personvern');
    const text = await page.locator('body').innerText();
    check('promise: necessary cookies under legitimate interest (art. 6 nr. 1 f)', /berettigede interesse[^.]*art\. 6 nr\. 1 bokstav f/.test(text));
    check('promise: analytics, improvement and advertising cookies under consent (art. 6 nr. 1 a, ekomloven § 2-7 b)',
      /bare med ditt samtykke \(personvernforordningen art\. 6 nr\. 1 bokstav a\)/.test(text) && text.includes('ekomloven § 2-7 b'));
    await ctx.close();
    const cookies = await (await h.adminFetch('/consent/cookies')).json();
    const rules = JSON.stringify(cookies);
    check('promise: each necessary cookie carries its justification for the privacy officer',
      ['JSESSIONID', 'XSRF-TOKEN', 'AWSALB'].every(n => rules.includes(n)) && (rules.match(/"justification":"[^"]{20,}/g) || []).length >= 3);
  });

  await step('advertising only with marketing consent', async () => {
    const { ctx, page, tr } = await open(site, '/');
    await dialogShown(page);
    await saveChoice(page, ['analytics']);
    await page.waitForLoadState('load');
    await page.goto(`${site.origin}/stillinger`);
    await settle(page);
    await sleep(300);
    const names = (await ctx.cookies(site.origin)).map(c => c.name);
    check('promise: Google\'s advertising cookies and hosts only after marketing consent',
      names.includes('_ga') && !names.some(n => ['_gcl_au', '_gcl_aw', 'IDE', 'test_cookie'].includes(n)) && !tr.some(x => x.category === 'marketing'),
      `${names.join(',')} | ${[...new Set(tr.map(x => x.host))].join(' ')}`);
    await ctx.close();
  });
}
