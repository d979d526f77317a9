// The web client when the chat service or its WebSocket bridge goes away:
// what the page shows, how it reconnects, and what it recovers. Another
// bridge host carries a second user who keeps talking meanwhile.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  TIMEOUT, WsPeer, bubbleWith, dotColour, launchBrowser, liveBodies, openChat, say, screenshot, startCluster,
} from './harness.mjs';

const MAX_REPLAY = 3;  // grpc-chat's max_replay here: a longer absence is a history gap

describe('web client connection', () => {
  let browser;
  before(async () => { browser = await launchBrowser(); });
  after(async () => { await browser?.close(); });

  test('chat service down: one orange "chat service down" state, the message waits in the outbox and goes by itself', async (t) => {
    // The page's bridge comes back to the chat service more slowly than the
    // peer's, so that the peer usually speaks while the page is still without it.
    const cluster = await startCluster('service', { peerBridge: true, bridgeReconnectMs: [1500, 1500] });
    let peer;
    try {
      const page = await openChat(browser, cluster.pageUrl('watcher', 'ops'));
      // In the room (its snapshot came) before the peer comes, so the page
      // hears the peer join rather than finding them in its snapshot.
      await page.locator('#people li', { hasText: 'watcher (you)' }).waitFor({ timeout: TIMEOUT });
      peer = await WsPeer.connect(`ws://127.0.0.1:${cluster.ports.peerWs}/?user=peer&room=ops`);
      await peer.say('ops', 'peer', 'before the outage');
      await bubbleWith(page, 'before the outage').waitFor({ timeout: TIMEOUT });
      await page.locator('#people li', { hasText: 'peer' }).waitFor({ timeout: TIMEOUT });
      const live = page.locator('#live');
      await live.waitFor({ state: 'visible', timeout: TIMEOUT });
      assert.equal(await live.evaluate((e) => getComputedStyle(e).animationName), 'blink');
      assert.equal(await dotColour(page), 'green');

      await cluster.chat.stop();
      // The WebSocket is up, the service behind it is not: one state, said once.
      await page.locator('#status-text', { hasText: 'chat service down' }).waitFor({ timeout: TIMEOUT });
      assert.equal(await dotColour(page), 'orange');
      assert.equal(await live.isHidden(), true);
      assert.deepEqual(await page.locator('#people li').allTextContents(), ['unknown: chat service down']);

      // Written now, it waits and says so; nothing to press.
      await say(page, 'typed while it was down');
      const waiting = page.locator('#log .msg.mine', { hasText: 'typed while it was down' });
      await waiting.locator('.state', { hasText: 'waiting to send' }).waitFor({ timeout: TIMEOUT });
      assert.equal(await waiting.locator('button').count(), 0);
      assert.equal(await page.locator('#log .msg.failed').count(), 0);
      await screenshot(page, 'server-offline');

      // Back: the peer on the other bridge talks as soon as it can.
      await cluster.chat.start();
      await peer.say('ops', 'peer', 'sent while you were away 1', 30000);
      await peer.say('ops', 'peer', 'sent while you were away 2');
      await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
      await live.waitFor({ state: 'visible', timeout: TIMEOUT });
      await bubbleWith(page, 'sent while you were away 2').waitFor({ timeout: TIMEOUT });
      // The waiting message went by itself, once.
      await waiting.locator('.state', { hasText: /^sent$/ }).waitFor({ timeout: TIMEOUT });
      await peer.waitFor((f) => f.chat_message?.content === 'typed while it was down', 'the queued message');
      await say(page, 'after the outage');
      await peer.waitFor((f) => f.chat_message?.content === 'after the outage', 'a message after the outage');
      await page.locator('#log .msg.mine .state', { hasText: /^sent$/ }).nth(1).waitFor({ timeout: TIMEOUT });
      // Both see one order, each message once: the page placed its own where
      // the service stored it.
      const theirs = peer.frames.filter((f) => f.chat_message).map((f) => f.chat_message.content);
      assert.deepEqual(await liveBodies(page), theirs);
      assert.equal(theirs.length, 5);
      t.diagnostic(`order: ${theirs.join(' | ')}`);
      // Presence came back without "peer joined" again (once, when they came).
      await page.locator('#people li', { hasText: 'peer' }).waitFor({ timeout: TIMEOUT });
      assert.equal(await page.locator('#log .event', { hasText: 'peer joined' }).count(), 1);
      assert.deepEqual(page.errors, []);
      await page.context().close();
    } finally {
      peer?.close();
      await cluster.stop();
    }
  });

  test('a phone and a desktop see one conversation through a proxy restart and a chat-service outage', async (t) => {
    // Carol talks through another proxy, which stays up while the pages' restarts.
    const cluster = await startCluster('together', { peerBridge: true });
    let carol;
    try {
      const phone = await openChat(browser, cluster.pageUrl('alice', 'together'), { viewport: { width: 360, height: 740 } });
      const desktop = await openChat(browser, cluster.pageUrl('bob', 'together'));
      carol = await WsPeer.connect(`ws://127.0.0.1:${cluster.ports.peerWs}/?user=carol&room=together`);
      for (let i = 1; i <= 30; i++) await carol.say('together', 'carol', `long room ${i}`);  // more than a screenful
      await say(phone, 'hi from the phone');
      await bubbleWith(desktop, 'hi from the phone').waitFor({ timeout: TIMEOUT });
      await say(desktop, 'hi from the desk');
      await bubbleWith(phone, 'hi from the desk').waitFor({ timeout: TIMEOUT });

      // The pages' proxy restarts; the phone writes meanwhile, carol too.
      await cluster.bridge.stop();
      for (const page of [phone, desktop]) await page.locator('#status-text', { hasText: 'offline' }).waitFor({ timeout: 30000 });
      await say(phone, 'phone while the proxy is away');
      await phone.locator('#log .msg.mine', { hasText: 'phone while the proxy is away' })
        .locator('.state', { hasText: 'waiting to send' }).waitFor({ timeout: TIMEOUT });
      await carol.say('together', 'carol', 'carol while your proxy is away');
      await cluster.bridge.start();
      for (const page of [phone, desktop]) {
        await page.locator('#dot.connected').waitFor({ timeout: 20000 });
        await bubbleWith(page, 'carol while your proxy is away').waitFor({ timeout: TIMEOUT });
      }
      await carol.waitFor((f) => f.chat_message?.content === 'phone while the proxy is away', 'the phone\'s outbox');

      // The chat service goes away behind both proxies; both pages write.
      await cluster.chat.stop();
      for (const page of [phone, desktop]) await page.locator('#status-text', { hasText: 'chat service down' }).waitFor({ timeout: TIMEOUT });
      await say(desktop, 'desk during the outage');
      await say(phone, 'phone during the outage');
      await cluster.chat.start();
      await carol.say('together', 'carol', 'carol after the outage', 30000);
      for (const text of ['desk during the outage', 'phone during the outage']) {
        await carol.waitFor((f) => f.chat_message?.content === text, text, 30000);
      }
      const conversation = carol.frames.filter((f) => f.chat_message).map((f) => f.chat_message.content);
      assert.equal(conversation.length, 30 + 2 + 2 + 2 + 1);
      for (const page of [phone, desktop]) {
        await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
        await bubbleWith(page, conversation.at(-1)).waitFor({ timeout: TIMEOUT });
        await page.locator('#log .msg.mine .state', { hasText: /waiting|failed|sending/ }).waitFor({ state: 'detached', timeout: TIMEOUT });
      }
      // One conversation: the same messages, once each, in the order the service stored them.
      assert.deepEqual(await liveBodies(phone), conversation);
      assert.deepEqual(await liveBodies(desktop), conversation);
      t.diagnostic(`last of the conversation: ${conversation.slice(-6).join(' | ')}`);
      // Nobody left or joined but once: a reconnect is no leaving (a "left"
      // would show 5 s after it, if nobody came back).
      await new Promise((r) => setTimeout(r, 5500));
      const presenceLines = (page) => page.locator('#log .event.joined, #log .event.left').allTextContents();
      assert.deepEqual(await presenceLines(phone), ['bob joined', 'carol joined']);
      assert.deepEqual(await presenceLines(desktop), ['carol joined']);
      for (const page of [phone, desktop]) {
        assert.equal(await page.locator('#notice').isHidden(), true);
        assert.deepEqual(page.errors, []);
      }
      // The phone still shows the newest message and the composer, and scrolls.
      const inView = (locator) => locator.evaluate((e) => {
        const r = e.getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight + 1;
      });
      assert.equal(await inView(bubbleWith(phone, conversation.at(-1))), true);
      assert.equal(await inView(phone.locator('#composer')), true);
      assert.equal(await phone.locator('#log').evaluate((e) => e.scrollHeight > e.clientHeight), true);
      await screenshot(phone, 'phone-after-outages');
      await screenshot(desktop, 'desktop-after-outages');
      for (const page of [phone, desktop]) await page.context().close();
    } finally {
      carol?.close();
      await cluster.stop();
    }
  });

  test('the outbox keeps what could not be sent across a room switch and a reload', async () => {
    const cluster = await startCluster('outbox');
    let peer;
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(cluster.pageUrl('keeper', 'first'));
      await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
      // The chat service goes away (the page, served by the bridge, can still reload).
      await cluster.chat.stop();
      await page.locator('#status-text', { hasText: 'chat service down' }).waitFor({ timeout: TIMEOUT });
      await say(page, 'written offline in first');
      await page.locator('#log .msg.mine .state', { hasText: 'waiting to send' }).waitFor({ timeout: TIMEOUT });
      // Another room, and one more there; then the page is reloaded.
      await page.locator('#room').fill('second');
      await page.locator('#room').press('Enter');
      await say(page, 'written offline in second');
      await page.locator('#log .msg.mine', { hasText: 'written offline in second' }).waitFor({ timeout: TIMEOUT });
      assert.equal(await bubbleWith(page, 'written offline in first').count(), 0);
      await page.reload();
      await bubbleWith(page, 'written offline in second').waitFor({ timeout: TIMEOUT });
      assert.match(await page.locator('#log .msg.mine .state').textContent(), /waiting to send/);

      // Back: both are stored, once each, in their rooms.
      await cluster.chat.start();
      await page.locator('#dot.connected').waitFor({ timeout: 20000 });
      await page.locator('#log .msg.mine .state', { hasText: /^sent$/ }).waitFor({ timeout: TIMEOUT });
      // history-http may still be finding the service again (503): asked until it answers.
      const history = async (room) => {
        for (let i = 0; ; i++) {
          const response = await fetch(`http://127.0.0.1:${cluster.ports.http}/history?room=${room}`);
          const messages = response.ok ? (await response.json()).messages : [];
          if (messages.length || i >= 100) return messages.map((m) => m.content);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      assert.deepEqual(await history('first'), ['written offline in first']);
      assert.deepEqual(await history('second'), ['written offline in second']);
      assert.equal(await page.evaluate(() => localStorage.getItem('chat.outbox.keeper')), null);
      await context.close();
    } finally {
      peer?.close();
      await cluster.stop();
    }
  });

  test('bridge down: red dot and countdown, back by itself with what was missed, and a notice after a gap', async () => {
    const cluster = await startCluster('bridge', { peerBridge: true, chatExtra: `max_replay = ${MAX_REPLAY}\n` });
    let peer;
    try {
      const page = await openChat(browser, cluster.pageUrl('patient', 'waiting'));
      peer = await WsPeer.connect(`ws://127.0.0.1:${cluster.ports.peerWs}/?user=peer&room=waiting`);
      await peer.say('waiting', 'peer', 'one');
      // Seen before answering, so the page's own order is the room's.
      await bubbleWith(page, 'one').waitFor({ timeout: TIMEOUT });
      await say(page, 'two');
      await page.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });

      await cluster.bridge.stop();
      // A few quick tries (orange), then red, always with the time to the next try.
      await page.locator('#dot.offline').waitFor({ timeout: 30000 });
      assert.equal(await dotColour(page), 'red');
      assert.equal(await page.locator('#status-text').textContent(), 'offline');
      assert.match(await page.locator('#countdown').textContent(), /^next try in \d+ s$/);
      assert.equal(await page.locator('#reconnect').isVisible(), true);
      assert.equal(await page.locator('#live').isHidden(), true);
      assert.deepEqual(await page.locator('#people li').allTextContents(), ['unknown: not connected']);
      await screenshot(page, 'reconnecting');

      // Missed, but few enough to be replayed.
      await peer.say('waiting', 'peer', 'three');
      await peer.say('waiting', 'peer', 'four');
      await cluster.bridge.start();
      await page.locator('#dot.connected').waitFor({ timeout: 40000 });
      await bubbleWith(page, 'four').waitFor({ timeout: TIMEOUT });
      // Only what was new to the page counts as recovered (its own "two" was not missed).
      await page.locator('#log .event.recovered').waitFor({ timeout: TIMEOUT });
      assert.deepEqual(await page.locator('#log .event.recovered').allTextContents(), ['recovered 2 missed messages']);
      await say(page, 'five');
      await page.locator('#log .msg.mine .state', { hasText: 'sent' }).nth(1).waitFor({ timeout: TIMEOUT });
      assert.deepEqual(await liveBodies(page), ['one', 'two', 'three', 'four', 'five']);
      assert.equal(await page.locator('#notice').isHidden(), true);

      // Missed more than the service replays: the page reloads and says so.
      await cluster.bridge.stop();
      await page.locator('#countdown', { hasText: /next try in/ }).waitFor({ timeout: TIMEOUT });
      const missed = ['six', 'seven', 'eight', 'nine', 'ten'];
      for (const text of missed) await peer.say('waiting', 'peer', text);
      await cluster.bridge.start();
      await page.locator('#dot.connected').waitFor({ timeout: 40000 });
      await page.locator('#notice', { hasText: 'could not be recovered' }).waitFor({ timeout: TIMEOUT });
      await bubbleWith(page, 'ten').waitFor({ timeout: TIMEOUT });
      assert.deepEqual(await liveBodies(page), ['one', 'two', 'three', 'four', 'five', ...missed]);
      await screenshot(page, 'history-gap');
      await page.locator('#notice-close').click();
      assert.equal(await page.locator('#notice').isHidden(), true);
      assert.deepEqual(page.errors, []);
      await page.context().close();
    } finally {
      peer?.close();
      await cluster.stop();
    }
  });

  test('reconnects with exponential backoff and jitter; "Reconnect now" does not wait', async () => {
    const cluster = await startCluster('backoff');
    try {
      // The page's clock is controlled from here: its timers run only when told.
      const page = await openChat(browser, cluster.pageUrl('timed', 'clock'), { clock: true });
      let sockets = 0;
      page.on('websocket', () => { sockets++; });
      await page.clock.pauseAt(await page.evaluate(() => Date.now() + 1000));

      await cluster.bridge.stop();
      const waits = [], colours = [];
      for (let round = 0; round < 16; round++) {
        const countdown = page.locator('#countdown', { hasText: /^next try in \d+ s$/ });
        await countdown.waitFor({ timeout: TIMEOUT });
        waits.push(Number((await countdown.textContent()).match(/\d+/)[0]));
        colours.push(await dotColour(page));
        const before = sockets;
        await page.clock.fastForward(31000);  // past any wait: the next try starts now
        while (sockets === before) await new Promise((r) => setTimeout(r, 20));
      }
      // Each wait is, in whole seconds rounded up, between half and all of
      // 0.5 s doubling per try up to 5 s (so a proxy that is back is found
      // within a few seconds)...
      const steps = waits.map((_, i) => Math.min(5000, 500 * 2 ** i));
      waits.forEach((wait, i) => {
        assert.ok(wait >= Math.ceil(steps[i] / 2000) && wait <= Math.ceil(steps[i] / 1000),
          `wait ${i}: ${wait} s for a step of ${steps[i]} ms (${waits})`);
      });
      // ... and not always the same part of it: jitter. (Twelve waits at the
      // 5 s cap are each 3, 4 or 5 s; all equal is one chance in about 30,000.)
      assert.ok(new Set(waits.slice(4)).size > 1, `no jitter in ${waits}`);
      assert.deepEqual(colours, ['orange', 'orange', 'orange', ...Array(13).fill('red')]);

      // The clock stands still: only the button can bring it back now.
      await cluster.bridge.start();
      await page.locator('#reconnect').click();
      await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
      assert.equal(await page.locator('#reconnect').isHidden(), true);
      await say(page, 'back at once');
      await page.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
      await page.context().close();
    } finally {
      await cluster.stop();
    }
  });
  test('a catch-up of 2,000 messages keeps the page responsive, shows the last within a second, and older ones on scrolling up', async (t) => {
    const cluster = await startCluster('burst', { peerBridge: true });
    const peers = [];
    try {
      const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
      // When the last message's frame arrives, and when its bubble is in the page.
      await context.addInitScript(() => {
        const Native = window.WebSocket;
        window.WebSocket = class extends Native {
          constructor(...args) {
            super(...args);
            this.addEventListener('message', (e) => {
              if (typeof e.data === 'string' && e.data.includes('"content":"burst last"')) window.lastArrived = performance.now();
            });
          }
        };
        window.longTasks = [];
        new PerformanceObserver((list) => { for (const e of list.getEntries()) window.longTasks.push(e.duration); })
          .observe({ type: 'longtask', buffered: true });
        addEventListener('DOMContentLoaded', () => {
          new MutationObserver((records) => {
            for (const record of records) {
              for (const node of record.addedNodes) {
                if (window.lastShown === undefined && node.querySelector?.('.body')?.textContent === 'burst last') {
                  window.lastShown = performance.now();
                }
              }
            }
          }).observe(document.getElementById('log'), { childList: true });
        });
      });
      const page = await context.newPage();
      page.errors = [];
      page.on('pageerror', (e) => page.errors.push(String(e)));
      await page.goto(cluster.pageUrl('reader', 'busy'));
      // In the room (its snapshot came): a reconnect asks for what followed.
      await page.locator('#people li', { hasText: 'reader (you)' }).waitFor({ timeout: TIMEOUT });

      // The page's bridge goes away; the room fills meanwhile through the other.
      await cluster.bridge.stop();
      await page.locator('#countdown', { hasText: /next try in/ }).waitFor({ timeout: TIMEOUT });
      for (let p = 0; p < 20; p++) peers.push(await WsPeer.connect(`ws://127.0.0.1:${cluster.ports.peerWs}/?user=w${p}&room=busy`));
      await Promise.all(peers.map(async (peer, p) => {
        for (let i = 0; i < 100; i++) await peer.say('busy', `w${p}`, `burst ${p * 100 + i}`);
      }));
      await peers[0].say('busy', 'w0', 'burst last');
      await page.evaluate(() => { window.longTasks = []; });

      // Back: the page asks for what it missed, 2,001 messages at once.
      await cluster.bridge.start();
      await bubbleWith(page, 'burst last').waitFor({ timeout: 40000 });
      await page.waitForFunction(() => window.lastShown !== undefined, null, { timeout: TIMEOUT });
      const { shownAfter, longest, bubbles } = await page.evaluate(() => ({
        shownAfter: window.lastShown - window.lastArrived,
        longest: Math.max(0, ...window.longTasks),
        bubbles: document.querySelectorAll('#log .msg').length,
      }));
      t.diagnostic(`last message shown ${shownAfter.toFixed(0)} ms after its frame; longest task ${longest.toFixed(0)} ms; ${bubbles} bubbles kept`);
      assert.ok(shownAfter < 1000, `the last message showed ${shownAfter} ms after it arrived`);
      assert.ok(longest < 200, `the main thread was blocked for ${longest} ms`);
      assert.ok(bubbles <= 300, `${bubbles} bubbles in the live log`);
      await page.locator('#log .event.recovered', { hasText: 'recovered 2001 missed messages' }).waitFor({ timeout: TIMEOUT });
      // In one go: a replay is not a reason to drop a page that reads.
      assert.doesNotMatch(cluster.bridge.output, /too slow/);

      // Scrolling up brings the older ones back, in order, with the date above them.
      const firstSeq = () => page.locator('#log .msg[data-seq]').first().getAttribute('data-seq');
      const before = Number(await firstSeq());
      await page.locator('#log').evaluate((e) => { e.scrollTop = 0; });
      await page.waitForFunction((seq) => Number(document.querySelector('#log .msg[data-seq]').dataset.seq) < seq, before,
        { timeout: TIMEOUT });
      const seqs = await page.locator('#log .msg[data-seq]').evaluateAll((ns) => ns.map((n) => Number(n.dataset.seq)));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      assert.equal(new Set(seqs).size, seqs.length);
      assert.equal(await page.locator('#log .day').first().textContent(), 'Today');
      assert.deepEqual(page.errors, []);
      await context.close();
    } finally {
      for (const peer of peers) peer.close();
      await cluster.stop();
    }
  });
});
