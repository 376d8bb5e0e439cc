// The checkpoint page verifies offline: load it from a running server, run
// the parity vectors in the page, then cut the network (offline context AND
// the server stopped), verify a valid code (pass) and reject a forged, an
// expired and a revoked one; reload offline and verify again.
//
// Env: HEALTHCODE_URL, HEALTHCODE_OUT (screenshots), HEALTHCODE_CODES (a JSON
// file {valid, forged, expired, revoked}), HEALTHCODE_VECTORS (the vectors
// file), HEALTHCODE_SERVER_PID (stopped once the page is loaded).
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.HEALTHCODE_URL;
const out = process.env.HEALTHCODE_OUT;
const codes = JSON.parse(readFileSync(process.env.HEALTHCODE_CODES, 'utf8'));
const vectors = JSON.parse(readFileSync(process.env.HEALTHCODE_VECTORS, 'utf8'));
const serverPid = Number(process.env.HEALTHCODE_SERVER_PID);
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
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log('page error:', e.message));
  const ready = async () => {
    await page.waitForSelector('#checkpoint[data-ready="true"]', { timeout: 60000 });
  };
  // Both languages once online, so both are cached by the service worker.
  await page.goto(`${base}/checkpoint?lang=en`);
  await ready();
  await page.goto(`${base}/checkpoint?lang=zh`);
  await ready();
  // The worker installs (precaching six URLs) and claims the page; on a
  // loaded CI machine that can take a while, and a page loaded before the
  // claim is only controlled after a reload.
  await page.evaluate(() => navigator.serviceWorker.ready);
  if (!(await page.evaluate(() => navigator.serviceWorker.controller !== null))) {
    await page.reload();
    await ready();
  }
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 60000 });
  check(true, 'the service worker controls the page');

  const parity = await page.evaluate((v) => window.hcCheckpoint.runVectors(v), vectors);
  if (parity.failures.length) console.log(JSON.stringify(parity.failures, null, 1));
  check(parity.failures.length === 0 && parity.checked === vectors.cases.length,
    `the page gives the Rust verdict for all ${parity.checked} vectors`);

  // Cut the network: the browser goes offline and the server stops.
  await context.setOffline(true);
  process.kill(serverPid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  check(await page.evaluate(() => !navigator.onLine), 'the browser is offline');

  const verify = async (code) => {
    await page.fill('#code-input', code);
    await page.click('#verify-btn');
    await page.waitForSelector('#result:not([hidden])');
    return page.evaluate(() => ({
      verdict: document.getElementById('result').getAttribute('data-verdict'),
      reasons: [...document.querySelectorAll('#verdict-reasons li')].map((li) => li.getAttribute('data-code')),
      text: document.getElementById('result').innerText,
    }));
  };
  const expectVerdict = async (lang, name, code, verdict, reason) => {
    await page.evaluate(() => { document.getElementById('result').hidden = true; });
    const got = await verify(code);
    check(got.verdict === verdict && got.reasons[0] === reason,
      `${lang}: ${name} → ${verdict} (${reason}) [got ${got.verdict} ${got.reasons.join(',')}]`);
    return got;
  };
  const shot = (name) => page.screenshot({ path: join(out, `${name}.png`), fullPage: false });

  const pass = await expectVerdict('zh', 'valid code', codes.valid, 'pass', 'colour_pass');
  check(pass.text.includes('通行') && pass.text.includes('绿码'), 'the pass shows the colour, in Chinese');
  check(await page.locator('#verdict-demo').isVisible(), 'a DEMO code shows the DEMO banner');
  await shot('checkpoint-pass-zh');
  await expectVerdict('zh', 'forged code', codes.forged, 'deny', 'bad_signature');
  await shot('checkpoint-deny-zh');
  await expectVerdict('zh', 'expired code', codes.expired, 'deny', 'expired');
  await expectVerdict('zh', 'revoked code', codes.revoked, 'deny', 'revoked');

  // Reload with no network: the service worker serves the page.
  await page.goto(`${base}/checkpoint?lang=en`);
  await ready();
  check(true, 'the page reloads offline with its cached lists');
  const again = await expectVerdict('en', 'valid code after an offline reload', codes.valid, 'pass', 'colour_pass');
  check(again.text.includes('PASS'), 'the pass is in English');
  await shot('checkpoint-pass-en');
  await expectVerdict('en', 'revoked code after an offline reload', codes.revoked, 'deny', 'revoked');
  await shot('checkpoint-deny-en');
  await expectVerdict('en', 'forged code after an offline reload', codes.forged, 'deny', 'bad_signature');
} finally {
  await browser.close();
}
console.log('checkpoint browser test: all checks passed');
