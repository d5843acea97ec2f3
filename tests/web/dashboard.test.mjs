// dashboard.test.mjs — end-to-end test of the web dashboard (web/, issue 9).
//
//   COLIBRI_BIN=build/colibri COLIBRI_TEST_OUT=build/web-test node tests/web/dashboard.test.mjs
//
// Starts `colibri serve` on ephemeral ports in a temporary data directory,
// checks the static routes (types, no token needed, traversal refused),
// creates a running paper strategy through the API, then drives Debian's
// chromium (headless, through playwright-core) against the page served at /:
// logs in with the admin token, waits for the stream and the price chart to
// update, sees open orders, gets a parameter validation error shown, stops
// the strategy with its button and confirms through the API that it
// stopped, checks the phone-width layout, and finally kills the server and
// expects the "disconnected, reconnecting" state. Any console error (other
// than the one 400 the validation step asks for) fails the test.
// Screenshots: COLIBRI_TEST_OUT/dashboard-1280x800.png, dashboard-390x844.png.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
if (!existsSync(path.join(root, 'node_modules/playwright-core/package.json'))) {
    console.error(`web_dashboard_test: node_modules/playwright-core is missing: run npm ci in ${root}`);
    process.exit(1);
}
const require = createRequire(path.join(root, 'package.json'));
const { chromium } = require('playwright-core');

const bin = path.resolve(process.env.COLIBRI_BIN || path.join(root, 'build/colibri'));
const out = process.env.COLIBRI_TEST_OUT || path.join(root, 'build/web-test');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(out, { recursive: true });
if (!existsSync(path.join(path.dirname(bin), 'web/index.html'))) {
    console.error(`web_dashboard_test: ${path.dirname(bin)}/web/index.html is missing (build the colibri_web target)`);
    process.exit(1);
}

let failures = 0;
let checks = 0;
function check(cond, what) {
    checks++;
    if (!cond) {
        failures++;
        console.error('FAIL: ' + what);
    } else {
        console.log('ok: ' + what);
    }
    return cond;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(fn, ms, what) {
    const end = Date.now() + ms;
    let last;
    while (Date.now() < end) {
        try {
            last = await fn();
            if (last) return last;
        } catch (e) {
            last = e;
        }
        await sleep(200);
    }
    throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

// ---- the server ----

const dir = mkdtempSync(path.join(tmpdir(), 'clb_web_'));
const server = spawn(bin, ['serve', '--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0',
    '--ws-listen', '127.0.0.1:0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
let stdout = '';
let stderr = '';
server.stdout.on('data', (d) => { stdout += d; });
server.stderr.on('data', (d) => { stderr += d; });
let serverGone = false;
server.on('exit', () => { serverGone = true; });
server.on('error', (e) => { serverGone = true; stderr += String(e); });

let browser;
function cleanup() {
    if (!serverGone) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
}

let ca;
let port;
let token;

function request(method, urlPath, { body, auth = true, raw = false } = {}) {
    return new Promise((resolve, reject) => {
        const headers = {};
        if (auth) headers.Authorization = 'Bearer ' + token;
        const data = body === undefined ? undefined : JSON.stringify(body);
        if (data) headers['Content-Type'] = 'application/json';
        const req = https.request({ host: '127.0.0.1', port, method, path: urlPath, ca, headers,
            servername: 'localhost' }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c) => { text += c; });
            res.on('end', () => {
                let json = null;
                if (!raw) {
                    try { json = JSON.parse(text); } catch (e) { json = null; }
                }
                resolve({ status: res.statusCode, headers: res.headers, text, json });
            });
        });
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
    });
}

async function main() {
    await waitFor(() => stdout.includes('colibri serve ready') || serverGone, 20000, 'serve ready');
    if (serverGone) throw new Error('colibri serve exited: ' + stderr);
    port = Number(/REST https:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)[1]);
    ca = readFileSync(path.join(dir, 'data/tls/cert.pem'));
    token = readFileSync(path.join(dir, 'data/admin.token'), 'utf8').trim();
    const base = `https://127.0.0.1:${port}`;

    // ---- static routes ----
    let r = await request('GET', '/', { auth: false, raw: true });
    check(r.status === 200 && r.headers['content-type'].startsWith('text/html') &&
        r.text.includes('data-testid="price-chart"'), 'GET / is index.html without a token');
    check(r.headers['cache-control'] === 'no-cache' && /default-src 'self'/.test(r.headers['content-security-policy'] || ''),
        'the page has cache and CSP headers');
    check(!/cdn|https?:\/\/(?!127)/i.test(r.text), 'the page loads nothing from elsewhere');
    r = await request('GET', '/web/app.js', { auth: false, raw: true });
    check(r.status === 200 && r.headers['content-type'].startsWith('text/javascript') &&
        /max-age/.test(r.headers['cache-control']), 'GET /web/app.js: javascript, cacheable');
    r = await request('GET', '/web/vendor/uPlot.iife.min.js', { auth: false, raw: true });
    check(r.status === 200 && r.text.includes('uPlot'), 'the chart library is served from the build');
    r = await request('GET', '/web/vendor/uPlot.min.css', { auth: false, raw: true });
    check(r.status === 200 && r.headers['content-type'].startsWith('text/css'), 'css content type');
    for (const bad of ['/web/../admin.token', '/web/..%2fdata/admin.token', '/web/%2e%2e/%2e%2e/etc/passwd',
        '/web//etc/passwd', '/web/app.js%00.png', '/web/.hidden.js', '/assets/../web/app.js',
        '/web/vendor/../app.js', '/web/', '/web/nope.js', '/web/CMakeCache.txt', '/web/..\\app.js']) {
        r = await request('GET', bad, { auth: false, raw: true });
        check(r.status === 404, `GET ${bad} is refused (404), got ${r.status}`);
    }
    r = await request('POST', '/web/app.js', { auth: false, body: {} });
    check(r.status === 405 && /GET/.test(r.headers.allow || ''), 'POST on a static file: 405 with Allow');
    r = await request('GET', '/api/v1/config/stream', { auth: false });
    check(r.status === 401, '/api/v1/config/stream needs a token');
    r = await request('GET', '/api/v1/config/stream');
    const wsPort = Number(/WebSocket wss:\/\/127\.0\.0\.1:(\d+)\/ws/.exec(stdout)[1]);
    check(r.status === 200 && r.json.port === wsPort && r.json.path === '/ws' &&
        r.json.url === `wss://127.0.0.1:${wsPort}/ws`, '/api/v1/config/stream gives the stream address');

    // ---- a running paper strategy ----
    r = await request('POST', '/api/v1/strategies', {
        body: { name: 'webtest', type: 'pure_market_making', connector: 'paper', market: 'BTC-USDT',
            params: { bid_spread: 0.01, ask_spread: 0.01, order_amount: 0.01, filled_order_delay: 1 },
            start: true },
    });
    if (!check(r.status === 201 || r.status === 200, `strategy created (${r.status} ${r.text.slice(0, 200)})`))
        throw new Error('cannot create the strategy');
    const sid = String(r.json.id);

    // ---- the browser ----
    browser = await chromium.launch({
        executablePath: chromiumPath,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync',
            '--disable-features=LocalNetworkAccessChecks', '--ignore-certificate-errors'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 },
        ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const consoleErrors = [];
    let allow400 = false;
    let collect = true;
    page.on('console', (m) => {
        if (!collect || m.type() !== 'error') return;
        if (allow400 && /status of 400/.test(m.text())) return;
        consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => { if (collect) consoleErrors.push('pageerror: ' + e.message); });
    const tid = (id) => page.locator(`[data-testid="${id}"]`);

    await page.goto(base + '/');
    check(await tid('token').isVisible() && !(await tid('price-chart').isVisible()),
        'before login: the login form only');
    await tid('token').fill(token);
    await tid('login').click();
    await waitFor(async () => (await tid('ws-status').getAttribute('data-state')) === 'connected', 15000,
        'ws-status connected');
    check(/^connected$/.test((await tid('ws-status').textContent()).trim()), 'ws-status shows connected');
    check(!(await tid('token').isVisible()) && await tid('price-chart').isVisible(),
        'after login: the dashboard, not the login form');
    check(!page.url().includes(token), 'the token is not in the URL');
    check(await page.evaluate(() => sessionStorage.getItem('colibri.token')) === token,
        'the token is kept in sessionStorage');
    check(await page.evaluate(() => localStorage.length) === 0, 'nothing in localStorage');

    const points0 = Number(await tid('price-chart').getAttribute('data-points'));
    await waitFor(async () => Number(await tid('price-chart').getAttribute('data-points')) >= points0 + 3,
        20000, 'the price chart to get 3 more points');
    check(true, 'the price chart updates from the stream');
    check(await tid('price-chart').locator('canvas').count() >= 1, 'the price chart is drawn (canvas)');
    await waitFor(async () => (await tid('open-orders').locator('tbody tr').count()) > 0, 15000,
        'open orders of the strategy');
    check(true, 'open orders are listed');
    check(await tid('strategies').locator(`tr[data-id="${sid}"]`).count() === 1, 'the strategy is listed');
    check(await tid(`stop-${sid}`).isEnabled() && !(await tid(`start-${sid}`).isEnabled()),
        'a running strategy: stop enabled, start disabled');
    await waitFor(async () => (await tid('connectors').locator('tbody tr').count()) > 0, 10000, 'connectors');
    check((await tid('connectors').textContent()).includes('paper'), 'the paper connector is shown');
    await waitFor(async () => (await page.locator('#logs').textContent()).length > 0 ||
        (await tid('trades').locator('tbody tr').count()) > 0, 15000, 'a log line or a trade');

    // parameter editing: the API's validation error is shown
    await tid('strategies').locator(`tr[data-id="${sid}"] summary`).click();
    await tid(`params-${sid}`).fill('{"bid_spread": -1}');
    allow400 = true;
    await tid(`save-${sid}`).click();
    const errText = await waitFor(async () => (await tid('strategies').locator(`tr[data-id="${sid}"] .error`).textContent()).trim(),
        5000, 'the validation error');
    allow400 = false;
    check(/bid_spread/.test(errText), `the API's validation error is shown: "${errText}"`);
    await tid(`params-${sid}`).fill('{"bid_spread": 0.02}');
    await tid(`save-${sid}`).click();
    await waitFor(async () => {
        const s = await request('GET', `/api/v1/strategies/${sid}`);
        return s.json && s.json.params && s.json.params.bid_spread === 0.02;
    }, 5000, 'bid_spread 0.02');
    check(true, 'a valid parameter change is applied');

    await waitFor(async () => Number(await tid('price-chart').getAttribute('data-order-lines')) > 0, 10000,
        'an open order drawn on the chart');
    check(true, 'open orders are drawn as lines on the price chart');
    await waitFor(async () => Number(await tid('price-chart').getAttribute('data-fills')) > 0, 30000,
        'a fill drawn on the chart');
    check(true, 'fills are drawn as markers on the price chart');
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(out, 'dashboard-1280x800.png') });

    // stop with the button; the API confirms
    await tid(`stop-${sid}`).click();
    await waitFor(async () => (await request('GET', `/api/v1/strategies/${sid}`)).json.state === 'stopped',
        10000, 'the strategy to be stopped');
    check(true, 'the stop button stopped the strategy (API says stopped)');
    await waitFor(async () => tid(`start-${sid}`).isEnabled(), 5000, 'the start button to be enabled');
    check(true, 'a stopped strategy: start enabled');

    // phone width
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await sleep(600);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    check(overflow <= 392, `no horizontal scrolling at 390 px (scrollWidth ${overflow})`);
    const chartW = await tid('price-chart').evaluate((e) => e.getBoundingClientRect().width);
    check(chartW > 300 && chartW <= 390, `the chart fits the phone width (${chartW})`);
    await page.screenshot({ path: path.join(out, 'dashboard-390x844.png') });

    check(consoleErrors.length === 0, 'no console errors' +
        (consoleErrors.length ? ':\n  ' + consoleErrors.join('\n  ') : ''));

    // the server goes away: the page says so
    collect = false;
    server.kill('SIGTERM');
    await waitFor(async () => (await tid('ws-status').getAttribute('data-state')) === 'reconnecting', 15000,
        'ws-status reconnecting');
    check(/reconnecting/.test(await tid('ws-status').textContent()) && await page.locator('#banner').isVisible(),
        'a lost stream shows "disconnected, reconnecting"');
}

const watchdog = setTimeout(() => {
    console.error('FAIL: the test took more than 100 s');
    cleanup();
    process.exit(1);
}, 100000);

try {
    await main();
} catch (e) {
    failures++;
    console.error('FAIL: ' + (e && e.stack ? e.stack : e));
    if (stderr) console.error('server stderr:\n' + stderr.slice(-2000));
} finally {
    if (browser) await browser.close().catch(() => {});
    cleanup();
    clearTimeout(watchdog);
}
console.log(`${checks} checks, ${failures} failed`);
process.exit(failures ? 1 : 0);
