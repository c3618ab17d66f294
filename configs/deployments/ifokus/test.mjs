// ifokus's own promises, after the common walk of tests/e2e/deployment.mjs: the career portal's
// log-in works before any choice (its cookies are necessary), each site's privacy statement
// re-opens that site's own banner, and consent records are kept as the group's policy says.
export default async function ifokus(h) {
  const { check, step, open, act, decide, dialogShown, settle, jar, optional } = h;
  const site = name => h.sites.find(s => s.name === name);

  await step('karriere log-in', async () => {
    const karriere = site('karriere');
    const { ctx, page, tr } = await open(karriere, '/logg-inn');
    await page.fill('#brukernavn', 'deltaker');
    await page.fill('#passord', 'stand-in');
    await Promise.all([page.waitForURL(`${karriere.origin}/min-side`), page.press('#passord', 'Enter')]);
    await settle(page);
    const names = await jar(ctx, karriere);
    check('promise: participants log in to the career portal before any choice (the session cookie is necessary and passes)',
      names.includes('.AspNetCore.Cookies') && optional(karriere, names).length === 0 && tr.length === 0, names.join(','));
    await ctx.close();
  });

  await step('each site re-opens its own banner', async () => {
    for (const s of h.sites) {
      const { ctx, page } = await open(s, '/');
      await dialogShown(page);
      await decide(page, act('reject-all'));
      await page.goto(`${s.origin}/personvern`);
      await page.locator('a[data-consent-open]', { hasText: 'Endre innstillinger for informasjonskapsler' }).click();
      await page.waitForSelector(`${h.DLG} .cg-l2:not([hidden])`, { timeout: 4000 });
      const text = await page.$eval(h.DLG, d => d.textContent);
      check(`promise: ${s.host}'s privacy statement link re-opens the banner of ${s.controller}`, text.includes(s.controller));
      await ctx.close();
    }
  });

  await step('retention', async () => {
    const evidence = await (await h.adminFetch('/privacy/evidence')).json();
    for (const s of evidence.sites) {
      check(`promise: ${s.site}'s consent records are deleted after 92 days (3 months, the group's retention)`,
        s.consent_records.retention_days === 92, `${s.consent_records.retention_days}`);
    }
  });
}
