// e2e.set_cookie.deletion: a Set-Cookie that "deletes" a cookie reaches a visitor who never
// consented to that cookie, so the gateway may only treat as a deletion what the browser
// really treats as one (issue 8 item 9). For each vector a tiny server on 127.0.0.1 first sets
// `_ga=old`, then answers with the vector; chromium's cookie jar says whether `_ga` survived.
// The gateway's verdict comes from the real response stage (classify_set_cookie, argv[2]).
// The test fails when the gateway says "deletion" and chromium keeps the cookie, or when a
// vector's expected verdict changes. Exit 77 (skipped) when chromium or playwright-core is
// missing. Usage: node set_cookie_deletion.mjs <path to classify_set_cookie>
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';

const SKIP = 77;
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const classifier = process.argv[2];

// `expect`: the gateway's verdict, fixed by the unit tests too; null: only compared with chromium.
const vectors = [
  // What sites send to delete a cookie.
  { header: '_ga=; Max-Age=0', expect: 'deletion' },
  { header: '_ga=; Max-Age=-1; Path=/', expect: 'deletion' },
  { header: '_ga=; Max-Age=-0', expect: 'deletion' },
  { header: '_ga=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/', expect: 'deletion' },
  { header: '_ga=deleted; expires=Thu, 01-Jan-1970 00:00:01 GMT; Max-Age=0', expect: 'deletion' },
  { header: '_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; SameSite=Lax',
    expect: 'deletion' },
  { header: '_ga=; Max-Age=0; Max-Age=-5', expect: 'deletion' },
  // Every Max-Age must expire the cookie: a browser that read the first one would keep it.
  { header: '_ga=1; Max-Age=1; Max-Age=0', expect: 'not' },
  { header: '_ga=1; Max-Age=0; Expires=1 Jan 1970 00:00:00', expect: 'deletion' },
  { header: '_ga=1; Max-Age= 0', expect: null },
  { header: '_ga=1; Max-Age=' + '0'.repeat(19), expect: 'deletion' },
  // Issue 8 item 9: deletions under RFC 6265 §5.2.2 that browsers may read as a store.
  { header: '_ga=1; Max-Age=0; Max-Age=+31536000', expect: 'not' },
  { header: '_ga=1; Max-Age=+999; Expires=Thu, 01 Jan 1970 00:00:00 GMT', expect: 'not' },
  { header: '_ga=1; Max-Age=+0', expect: 'not' },
  { header: '_ga=1; Max-Age=0; Max-Age=abc', expect: 'not' },
  { header: '_ga=1; Max-Age=0; Max-Age=', expect: 'not' },
  { header: '_ga=1; Max-Age=0; Max-Age', expect: 'not' },
  { header: '_ga=1; Max-Age=0; Max-Age=1', expect: 'not' },
  { header: '_ga=1; Max-Age=' + '0'.repeat(2000), expect: 'not' },
  { header: '_ga=1; Max-Age=-' + '9'.repeat(30), expect: 'not' },
  { header: '_ga=1; Max-Age=0; Expires=Wed, 21 Oct 2037 07:28:00 GMT', expect: 'not' },
  { header: '_ga=1; Expires=1 Jan 1970 00:00:00', expect: 'not' },
  { header: '_ga=1; Expires=Thursday, 01-Jan-70 00:00:00 GMT', expect: 'not' },
  { header: '_ga=1; Max-Age=60', expect: 'not' },
  { header: '_ga=1', expect: 'not' },
];

function skip(why) {
  console.log(`skipped: ${why}`);
  process.exit(SKIP);
}

if (!classifier || !existsSync(classifier)) {
  console.error('usage: node set_cookie_deletion.mjs <classify_set_cookie>');
  process.exit(2);
}
if (!existsSync(chromiumPath)) {
  skip(`no chromium at ${chromiumPath} (apt-get install chromium)`);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  skip('playwright-core is not installed (npm ci)');
}

const classified = spawnSync(classifier, {
  input: vectors.map((v) => v.header).join('\n') + '\n',
  encoding: 'utf8',
});
if (classified.status !== 0) {
  console.error(`classify_set_cookie failed: ${classified.stderr}`);
  process.exit(1);
}
const verdicts = classified.stdout.trim().split('\n');
if (verdicts.length !== vectors.length) {
  console.error(`classify_set_cookie gave ${verdicts.length} verdicts for ${vectors.length}`);
  process.exit(1);
}

// GET /old sets _ga for a day; GET /set?v=N answers with vector N. Both paths have the
// default-path "/", so a vector without Path targets the same cookie as the old one.
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/old') {
    res.setHeader('Set-Cookie', '_ga=old; Max-Age=86400; Path=/');
  } else if (url.pathname === '/set') {
    const v = vectors[Number(url.searchParams.get('v'))];
    if (v) {
      res.setHeader('Set-Cookie', v.header);
    }
  }
  res.setHeader('Content-Type', 'text/plain');
  res.end('ok\n');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox'],
});
const version = browser.version();
let failures = 0;
try {
  for (let i = 0; i < vectors.length; ++i) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${origin}/old`);
    const before = (await context.cookies(origin)).some((c) => c.name === '_ga');
    await page.goto(`${origin}/set?v=${i}`);
    const after = (await context.cookies(origin)).filter((c) => c.name === '_ga');
    await context.close();

    const chromiumVerdict = after.length === 0 ? 'deletion' : 'not';
    const ours = verdicts[i];
    let problem = '';
    if (!before) {
      problem = 'chromium did not store the old cookie';
    } else if (ours === 'deletion' && chromiumVerdict !== 'deletion') {
      problem = `passed as a deletion, but chromium keeps _ga=${after[0].value} ` +
                `(expires ${after[0].expires})`;
    } else if (vectors[i].expect !== null && ours !== vectors[i].expect) {
      problem = `expected the gateway to say ${vectors[i].expect}`;
    }
    console.log(`${problem ? 'FAIL' : 'ok  '} gateway=${ours.padEnd(8)} ` +
                `chromium=${chromiumVerdict.padEnd(8)} ${JSON.stringify(vectors[i].header)
                  .slice(0, 100)}${problem ? `: ${problem}` : ''}`);
    if (problem) {
      ++failures;
    }
  }
} finally {
  await browser.close();
  server.close();
}
if (failures > 0) {
  console.error(`${failures} of ${vectors.length} vectors failed`);
  process.exit(1);
}
console.log(`all ${vectors.length} vectors agree with chromium ${version}`);
