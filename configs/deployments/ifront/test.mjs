// iFront's own promises, after the common walk of tests/e2e/deployment.mjs: the data stays with
// the operator (the evidence endpoint says where consent records and statistics are kept and that
// nothing is forwarded), and strict access control (marketing sees statistics only).
export default async function ifront(h) {
  const { check, step } = h;

  await step('data stays with the operator', async () => {
    const evidence = await (await h.adminFetch('/privacy/evidence')).json();
    const s = evidence.sites.find(x => x.site === 'ifront');
    check('promise: consent records are kept in the operator\'s own Redis, with no IP address or user agent',
      s.consent_records.kept_in === "the operator's own Redis" && /no IP address, no user agent/.test(s.consent_records.contents), JSON.stringify(s.consent_records));
    check('promise: statistics are forwarded nowhere', Array.isArray(s.analytics.forwarded_to) && s.analytics.forwarded_to.length === 0, JSON.stringify(s.analytics.forwarded_to));
  });

  await step('access control', async () => {
    const ctx = await h.browser.newContext();
    const page = await ctx.newPage();
    // Logs in through the form; the status of POST /login.
    const login = async (user, password) => {
      await page.goto(`${h.admin}/login`);
      await page.fill('input[name=username]', user);
      await page.fill('input[name=password]', password);
      const [r] = await Promise.all([
        page.waitForResponse(x => new URL(x.url()).pathname === '/login' && x.request().method() === 'POST'),
        page.click('button[type=submit]'),
      ]);
      await page.waitForLoadState('load');
      return r.status();
    };
    const refused = await login('marketing', 'wrong-password');
    check('promise: strict access control: a wrong password is refused', refused === 401 && page.url().startsWith(`${h.admin}/login`), `${refused} ${page.url()}`);
    const marketing = await login('marketing', 'demo-marketing');
    check('marketing logs in with its password', marketing === 303, `${marketing}`);
    for (const path of ['/privacy/evidence', '/metrics', '/consent/counts', '/consent/cookies']) {
      const r = await page.request.get(`${h.admin}${path}`, { maxRedirects: 0 });
      check(`promise: strict access control: marketing gets 403 on ${path}`, r.status() === 403, `${r.status()}`);
    }
    const stats = await page.request.get(`${h.admin}/stats/api/summary?site=ifront`);
    check('promise: strict access control: marketing reads the statistics', stats.status() === 200, `${stats.status()}`);
    await ctx.clearCookies();
    const admin = await login('admin', 'demo-admin');
    check('admin logs in with its password', admin === 303, `${admin}`);
    const ev = await page.request.get(`${h.admin}/privacy/evidence`);
    check('promise: strict access control: the admin role reads the evidence', ev.status() === 200, `${ev.status()}`);
    await ctx.close();
  });
}
