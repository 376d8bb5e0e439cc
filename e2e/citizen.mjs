// A citizen applies for a code in a real browser, sees it, switches
// language; an official signs in. Writes the code shown on the page to
// $HEALTHCODE_OUT/code.txt (the Rust test verifies it offline) and
// screenshots of the main pages to $HEALTHCODE_OUT.
//
// Env: HEALTHCODE_URL (server base URL), HEALTHCODE_OUT (a directory),
// HEALTHCODE_OFFICIAL_PASSWORD (the demo official's password).
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.HEALTHCODE_URL;
const out = process.env.HEALTHCODE_OUT;
const officialPassword = process.env.HEALTHCODE_OFFICIAL_PASSWORD;
if (!base || !out || !officialPassword) {
  console.error('set HEALTHCODE_URL, HEALTHCODE_OUT and HEALTHCODE_OFFICIAL_PASSWORD');
  process.exit(2);
}
mkdirSync(out, { recursive: true });

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  // A phone-sized window, a Chinese browser.
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  const shot = (name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });

  await page.goto(`${base}/`);
  check(await page.locator('.demo').isVisible(), 'the DEMO banner is shown');
  await shot('home-zh');

  await page.click('a[href="/code"]');
  await page.waitForURL(/\/apply$/);
  const phone = '13912345678';
  await page.fill('#phone', phone);
  await shot('apply-phone-zh');
  await Promise.all([page.waitForURL(/\/apply\/verify/), page.click('button[type=submit]')]);

  // The development SMS sender keeps messages in the outbox.
  const outbox = await (await page.request.get(`${base}/api/v1/outbox`)).json();
  const sms = outbox.find((m) => m.to === '139****5678');
  check(sms !== undefined, 'the one-time code reached the SMS outbox');
  const code = sms.body.match(/\b(\d{6})\b/)[1];
  await page.fill('#code', code);
  await Promise.all([page.waitForURL(/\/apply\/details|\/code/), page.click('button[type=submit]')]);

  await page.fill('#name', '孙小美');
  await page.selectOption('#kind', 'resident_id');
  await page.fill('#number', '330106198805120015');
  await page.fill('#temperature', '36.6');
  await shot('apply-details-zh');
  await Promise.all([page.waitForURL(/\/code$/), page.click('button[type=submit]')]);

  await page.waitForSelector('#code-data svg');
  check(await page.getByRole('heading', { name: '我的健康码' }).isVisible(), 'the code page is in Chinese');
  check((await page.locator('#code-data .colour').innerText()).includes('绿码'), 'the code is green');
  await page.waitForFunction(() => /\d{2}:\d{2}:\d{2}/.test(document.getElementById('clock').textContent));
  check(true, 'the live clock runs');
  const shown = await page.locator('#code-data').getAttribute('data-code');
  check(shown.startsWith('HCP1:'), 'the page carries a signed code');
  writeFileSync(join(out, 'code.txt'), shown);
  // The QR code exactly as the browser drew it, for `healthcode verify`.
  await page.locator('#code-data .qr svg').screenshot({ path: join(out, 'qr.png') });
  await shot('code-zh');

  // The visible language switch.
  await Promise.all([page.waitForURL(/\/code/), page.click('a.lang')]);
  await page.waitForSelector('#code-data svg');
  check(await page.getByRole('heading', { name: 'My health code' }).isVisible(), 'the switch turns the page English');
  check(await page.getByText('Why is my code this colour?').isVisible(), 'the explanation is in English');
  await shot('code-en');

  // The page fetches a fresh code by itself before the shown one expires.
  const before = await page.locator('#code-data').getAttribute('data-code');
  await page.evaluate(() => fetch('/code/live?lang=en').then((r) => r.text()).then((h) => { document.getElementById('live-code').innerHTML = h; }));
  const after = await page.locator('#code-data').getAttribute('data-code');
  check(after.startsWith('HCP1:') && after !== before, 'a refreshed code is a new signed code');

  // An official signs in and looks the person up.
  const official = await context.newPage();
  await official.goto(`${base}/official?lang=en`);
  await official.fill('#username', 'demo-official');
  await official.fill('#password', officialPassword);
  await Promise.all([official.waitForURL(/\/official/), official.click('button[type=submit]')]);
  await official.fill('#identity', '330106198805120015');
  await official.fill('#purpose', 'e2e: checking the new application');
  await Promise.all([official.waitForLoadState(), official.click('form[method=get] button')]);
  check(await official.locator('.code .colour').isVisible(), 'the official sees the person and the colour');
  await official.screenshot({ path: join(out, 'official-en.png'), fullPage: true });

  await page.goto(`${base}/outbox?lang=en`);
  await shot('outbox-en');
} finally {
  await browser.close();
}
console.log('browser end-to-end: all checks passed');
