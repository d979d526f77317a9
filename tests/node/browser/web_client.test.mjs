// The web client in headless Chromium against real chat-host processes:
// a grpc-chat host, and bridge hosts running ws-proxy + history-http.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { Host, freePort, launchBrowser, screenshot, SOURCE_DIR } from './harness.mjs';

const TIMEOUT = 15000;

function chatToml(port) {
  return `[host]
plugins = ["grpc-chat"]
[grpc-chat]
host = "127.0.0.1"
port = ${port}
store = "sqlite"
sync = "normal"
store_path = "data/chat.db"
`;
}

function bridgeToml({ chatPort, wsPort, httpPort, plugins = ['ws-proxy', 'history-http'] }) {
  return `[host]
plugins = ${JSON.stringify(plugins)}
[ws-proxy]
host = "127.0.0.1"
port = ${wsPort}
chat_host = "127.0.0.1"
chat_port = ${chatPort}
allowed_origins = ["*"]
reconnect_min_ms = 100
reconnect_max_ms = 500
[history-http]
host = "127.0.0.1"
port = ${httpPort}
chat_host = "127.0.0.1"
chat_port = ${chatPort}
ws_port = ${wsPort}
allowed_origins = ["*"]
web_root = "${join(SOURCE_DIR, 'web')}"
`;
}

// One grpc-chat host and one bridge host, on ports chosen now so that either
// can be restarted where it was.
async function startCluster(name) {
  const ports = { chat: await freePort(), ws: await freePort(), http: await freePort() };
  const chat = await new Host(`${name}-chat`, chatToml(ports.chat)).start();
  const bridge = await new Host(`${name}-bridge`,
    bridgeToml({ chatPort: ports.chat, wsPort: ports.ws, httpPort: ports.http })).start();
  return { ports, chat, bridge, pageUrl: (user, room) => `http://127.0.0.1:${ports.http}/?user=${user}&room=${room}` };
}

async function openChat(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(url);
  await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
  return page;
}

async function say(page, text) {
  await page.locator('#text').fill(text);
  await page.keyboard.press('Enter');
}

const bubbles = (page) => page.locator('#log .msg .body');
const bubbleWith = (page, text) => page.locator('#log .msg .body', { hasText: text });

describe('web client', () => {
  let browser;
  before(async () => { browser = await launchBrowser(); });
  after(async () => { await browser?.close(); });

  describe('against one chat service and one bridge', () => {
    let cluster;
    before(async () => { cluster = await startCluster('basic'); });
    after(async () => { await cluster?.bridge.stop(); await cluster?.chat.stop(); });

    test('two people in a room chat, a third in another room sees nothing', async () => {
      const alice = await openChat(browser, cluster.pageUrl('alice', 'lobby'));
      const bob = await openChat(browser, cluster.pageUrl('bob', 'lobby'));
      const carol = await openChat(browser, cluster.pageUrl('carol', 'elsewhere'));

      await say(alice, 'hello bob');
      await bubbleWith(bob, 'hello bob').waitFor({ timeout: TIMEOUT });
      await alice.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
      await say(bob, 'hi alice');
      await bubbleWith(alice, 'hi alice').waitFor({ timeout: TIMEOUT });

      // Mine on the right, theirs on the left, with the sender's name.
      assert.equal(await alice.locator('#log .msg.mine .body').first().textContent(), 'hello bob');
      assert.equal(await alice.locator('#log .msg:not(.mine) .sender').first().textContent(), 'bob');
      // Presence lists both.
      await alice.locator('#people li', { hasText: 'bob' }).waitFor({ timeout: TIMEOUT });
      await screenshot(alice, 'chat-two-people');

      await say(carol, 'anyone here?');
      await bubbleWith(carol, 'anyone here?').waitFor({ timeout: TIMEOUT });
      assert.equal(await bubbleWith(carol, 'hello bob').count(), 0);
      assert.equal(await bubbleWith(alice, 'anyone here?').count(), 0);
      assert.deepEqual([...alice.errors, ...bob.errors, ...carol.errors], []);
      for (const page of [alice, bob, carol]) await page.context().close();
    });

    test('markup in messages is shown as text and runs nothing', async () => {
      const mallory = await openChat(browser, cluster.pageUrl('mallory', 'xss'));
      const victim = await openChat(browser, cluster.pageUrl('victim', 'xss'));
      await victim.evaluate(() => { window.__pwned = false; });
      const img = '<img src=x onerror="window.__pwned=true">';
      const script = '<script>window.__pwned=true</script>';
      await say(mallory, img);
      await say(mallory, script);
      await bubbleWith(victim, '<script>').waitFor({ timeout: TIMEOUT });
      assert.equal(await bubbleWith(victim, img).first().textContent(), img);
      assert.equal(await victim.locator('#log img').count(), 0);
      assert.equal(await victim.locator('#log script').count(), 0);
      assert.equal(await victim.evaluate(() => window.__pwned), false);
      await screenshot(victim, 'markup-as-text');
      for (const page of [mallory, victim]) await page.context().close();
    });

    test('a message can be written and sent with the keyboard alone', async () => {
      const page = await openChat(browser, cluster.pageUrl('keys', 'keyboard'));
      // Tab from the start of the page reaches the message box.
      await page.locator('body').focus();
      let focused = '';
      for (let i = 0; i < 20 && focused !== 'text'; i++) {
        await page.keyboard.press('Tab');
        focused = await page.evaluate(() => document.activeElement?.id || '');
      }
      assert.equal(focused, 'text');
      await page.keyboard.type('first line');
      await page.keyboard.press('Shift+Enter');
      await page.keyboard.type('second line');
      await page.keyboard.press('Enter');
      const body = page.locator('#log .msg.mine .body').first();
      await body.waitFor({ timeout: TIMEOUT });
      assert.equal(await body.textContent(), 'first line\nsecond line');
      assert.equal(await page.locator('#text').inputValue(), '');
      await page.context().close();
    });

    test('history browses by user and loads older pages', async () => {
      const writer = await openChat(browser, cluster.pageUrl('writer', 'archive'));
      const other = await openChat(browser, cluster.pageUrl('other', 'archive'));
      for (let i = 1; i <= 60; i++) await say(i % 3 === 0 ? other : writer, `note ${i}`);
      await bubbleWith(writer, 'note 60').waitFor({ timeout: TIMEOUT });
      await writer.locator('#log .msg.mine .state', { hasText: 'sending' }).first()
        .waitFor({ state: 'detached', timeout: TIMEOUT }).catch(() => {});

      const reader = await openChat(browser, cluster.pageUrl('reader', 'archive'));
      await reader.locator('#tab-history').click();
      const history = reader.locator('#history .msg .body');
      await history.nth(49).waitFor({ timeout: TIMEOUT });
      assert.equal(await history.count(), 50);  // one page
      assert.equal(await history.last().textContent(), 'note 60');
      await reader.locator('#history .older').click();
      await history.nth(59).waitFor({ timeout: TIMEOUT });
      assert.equal(await history.first().textContent(), 'note 1');
      assert.equal(await reader.locator('#history .older').count(), 0);

      // Only `other`'s messages: every third one.
      await reader.locator('#history-user').selectOption('other');
      await reader.locator('#history .msg .body', { hasText: 'note 3' }).first().waitFor({ timeout: TIMEOUT });
      await reader.waitForFunction(() => document.querySelectorAll('#history .msg').length === 20, null, { timeout: TIMEOUT });
      const senders = await reader.locator('#history .msg .sender').allTextContents();
      assert.deepEqual([...new Set(senders)], ['other']);
      await screenshot(reader, 'history-filtered');

      // Live messages keep coming while browsing; the tab counts them.
      await say(writer, 'while you read');
      await reader.locator('#unseen', { hasText: '1' }).waitFor({ timeout: TIMEOUT });
      await reader.locator('#tab-live').click();
      await bubbleWith(reader, 'while you read').waitFor({ timeout: TIMEOUT });
      for (const page of [writer, other, reader]) await page.context().close();
    });

    test('fits a 360 px wide screen and labels every control', async () => {
      const context = await browser.newContext({ viewport: { width: 360, height: 640 } });
      const page = await context.newPage();
      await page.goto(cluster.pageUrl('narrow', 'phone'));
      await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
      assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
      for (const label of ['User', 'Room', 'Message']) {
        assert.equal(await page.getByLabel(label, { exact: true }).count(), 1, `no control labelled ${label}`);
      }
      assert.equal(await page.locator('[aria-live]').count() >= 1, true);
      await screenshot(page, 'narrow-screen');
      await context.close();
    });

    test('the page works opened from a file', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`file://${join(SOURCE_DIR, 'web', 'client.html')}?user=filer&room=files`);
      await page.locator('#settings-open').click();
      await page.locator('#ws-url').fill(`ws://127.0.0.1:${cluster.ports.ws}`);
      await page.locator('#history-url').fill(`http://127.0.0.1:${cluster.ports.http}`);
      await page.locator('#settings button[value="save"]').click();
      await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
      await say(page, 'from a file');
      await page.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
      await page.locator('#tab-history').click();
      await page.locator('#history .msg .body', { hasText: 'from a file' }).waitFor({ timeout: TIMEOUT });
      await context.close();
    });
  });

  test('chat service down: the page says server offline, then recovers what it missed', async () => {
    const cluster = await startCluster('failover');
    const otherPort = await freePort();
    const other = await new Host('failover-other',
      bridgeToml({ chatPort: cluster.ports.chat, wsPort: otherPort, httpPort: await freePort(), plugins: ['ws-proxy'] })).start();
    try {
      const page = await openChat(browser, cluster.pageUrl('watcher', 'ops'));
      await page.locator('#live:not([hidden])').waitFor({ timeout: TIMEOUT });

      await cluster.chat.stop();
      await page.locator('#service:not([hidden])', { hasText: 'server offline' }).waitFor({ timeout: TIMEOUT });
      assert.equal(await page.locator('#dot').getAttribute('class'), 'dot connected');  // the socket is still up
      assert.equal(await page.locator('#live').isHidden(), true);
      await screenshot(page, 'server-offline');

      await cluster.chat.start();
      // A client of the other bridge speaks as soon as the service is back.
      const peer = await openChat(browser, `http://127.0.0.1:${cluster.ports.http}/?user=peer&room=ops`);
      await peer.evaluate(({ port }) => {
        localStorage.setItem('chat.wsUrl', `ws://127.0.0.1:${port}`);
      }, { port: otherPort });
      await peer.reload();
      await peer.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
      await say(peer, 'sent while you were away');
      await peer.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });

      await page.locator('#service').waitFor({ state: 'hidden', timeout: TIMEOUT });
      await bubbleWith(page, 'sent while you were away').waitFor({ timeout: TIMEOUT });
      await page.waitForTimeout(500);
      assert.equal(await bubbleWith(page, 'sent while you were away').count(), 1);
      await page.locator('#live:not([hidden])').waitFor({ timeout: TIMEOUT });
      await page.context().close();
      await peer.context().close();
    } finally {
      await other.stop();
      await cluster.bridge.stop();
      await cluster.chat.stop();
    }
  });

  test('bridge down: red or orange dot with a countdown, then it reconnects by itself', async () => {
    const cluster = await startCluster('reconnect');
    try {
      const page = await openChat(browser, cluster.pageUrl('patient', 'waiting'));
      await cluster.bridge.stop();
      await page.locator('#status-text', { hasText: /in \d+ s/ }).waitFor({ timeout: TIMEOUT });
      assert.match(await page.locator('#dot').getAttribute('class'), /dot (connecting|offline)/);
      assert.equal(await page.locator('#reconnect').isVisible(), true);
      await screenshot(page, 'reconnecting');

      await cluster.bridge.start();
      await page.locator('#dot.connected').waitFor({ timeout: 40000 });
      await say(page, 'back again');
      await page.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
      await page.context().close();
    } finally {
      await cluster.bridge.stop();
      await cluster.chat.stop();
    }
  });
});
