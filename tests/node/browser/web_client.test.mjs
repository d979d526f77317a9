// The web client in headless Chromium against real chat-host processes: one
// grpc-chat host and one bridge host (ws-proxy + history-http). What happens
// when those go away is in web_client_connection.test.mjs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  TIMEOUT, WsPeer, bubbleWith, launchBrowser, liveBodies, lowContrastText, mintToken, openChat, say, screenshot,
  startCluster, tempDir, SOURCE_DIR,
} from './harness.mjs';

const CLIENT_HTML = join(SOURCE_DIR, 'web', 'client.html');

// The text of each state the first own bubble goes through, from the moment it is
// shown: "sending…", "sent", "not sent: …".
async function recordOwnStates(page) {
  await page.evaluate(() => {
    window.ownStates = [];
    new MutationObserver(() => {
      const state = document.querySelector('#log .msg.mine .state');
      const shown = state?.firstChild?.textContent;
      if (shown && window.ownStates.at(-1) !== shown) window.ownStates.push(shown);
    }).observe(document.getElementById('log'), { subtree: true, childList: true, characterData: true });
  });
}

describe('web client', () => {
  let browser, cluster;
  before(async () => {
    browser = await launchBrowser();
    cluster = await startCluster('page');
  });
  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  test('two people in a room chat, a third in another room sees nothing', async () => {
    const alice = await openChat(browser, cluster.pageUrl('alice', 'lobby'));
    const bob = await openChat(browser, cluster.pageUrl('bob', 'lobby'));
    const carol = await openChat(browser, cluster.pageUrl('carol', 'elsewhere'));

    // Join notices are lines of their own, not bubbles.
    const joined = alice.locator('#log .event', { hasText: 'bob joined' });
    await joined.waitFor({ timeout: TIMEOUT });
    assert.equal(await alice.locator('#log .msg', { hasText: 'bob joined' }).count(), 0);
    assert.equal(await joined.evaluate((e) => getComputedStyle(e).fontStyle), 'italic');

    await recordOwnStates(alice);
    await say(alice, 'hello bob');
    await bubbleWith(bob, 'hello bob').waitFor({ timeout: TIMEOUT });
    await alice.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await alice.evaluate(() => window.ownStates), ['sending…', 'sent']);
    await say(bob, 'hi alice');
    await bubbleWith(alice, 'hi alice').waitFor({ timeout: TIMEOUT });

    // Mine and theirs look different; theirs carry the sender's name.
    const mine = alice.locator('#log .msg.mine').first(), theirs = alice.locator('#log .msg:not(.mine)').first();
    assert.equal(await mine.locator('.body').textContent(), 'hello bob');
    assert.equal(await theirs.locator('.sender').textContent(), 'bob');
    const look = (bubble) => bubble.evaluate((e) => [getComputedStyle(e).backgroundColor, e.getBoundingClientRect().right]);
    const [[mineBg, mineRight], [theirsBg, theirsRight]] = [await look(mine), await look(theirs)];
    assert.notEqual(mineBg, theirsBg);
    assert.ok(mineRight > theirsRight, 'mine on the right');
    // The echo does not add a second bubble of mine.
    assert.equal(await bubbleWith(alice, 'hello bob').count(), 1);
    // New messages land in a live region that screen readers announce.
    assert.equal(await theirs.evaluate((e) => e.closest('[aria-live="polite"]')?.id), 'log');

    // Presence lists both; screenshots of the main state.
    await alice.locator('#people li', { hasText: 'bob' }).waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await alice.locator('#people li').allTextContents(), ['alice (you)', 'bob']);
    await screenshot(alice, 'chat-two-people');

    await say(carol, 'anyone here?');
    await bubbleWith(carol, 'anyone here?').waitFor({ timeout: TIMEOUT });
    await say(alice, 'still just us');
    await bubbleWith(bob, 'still just us').waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await liveBodies(carol), ['anyone here?']);
    assert.deepEqual(await carol.locator('#people li').allTextContents(), ['carol (you)']);
    assert.equal(await bubbleWith(alice, 'anyone here?').count(), 0);

    // Leaving is announced, and the presence list follows.
    await bob.context().close();
    await alice.locator('#log .event', { hasText: 'bob left' }).waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await alice.locator('#people li').allTextContents(), ['alice (you)']);
    assert.deepEqual([...alice.errors, ...carol.errors], []);
    for (const page of [alice, carol]) await page.context().close();
  });

  test('who is typing shows, and goes when they send or stop', async () => {
    const alice = await openChat(browser, cluster.pageUrl('alice', 'typing'));
    const bob = await openChat(browser, cluster.pageUrl('bob', 'typing'));
    const carol = await openChat(browser, cluster.pageUrl('carol', 'typing'));
    await alice.locator('#people li', { hasText: 'carol' }).waitFor({ timeout: TIMEOUT });

    await alice.locator('#text').fill('half a thou');
    await bob.locator('#typing', { hasText: 'alice is typing…' }).waitFor({ timeout: TIMEOUT });
    assert.equal(await alice.locator('#typing').textContent(), '');  // not one's own
    await carol.locator('#text').fill('me too');
    await bob.locator('#typing', { hasText: 'alice and carol are typing…' }).waitFor({ timeout: TIMEOUT });
    await screenshot(bob, 'typing');

    // Carol clears her text: she stopped. Alice sends: her message replaces it.
    await carol.locator('#text').fill('');
    await bob.locator('#typing', { hasText: /^alice is typing…$/ }).waitFor({ timeout: TIMEOUT });
    await alice.locator('#text').fill('half a thought, whole');
    await alice.keyboard.press('Enter');
    await bubbleWith(bob, 'half a thought, whole').waitFor({ timeout: TIMEOUT });
    await bob.locator('#typing:empty').waitFor({ timeout: TIMEOUT });
    for (const page of [alice, bob, carol]) {
      assert.deepEqual(page.errors, []);
      await page.context().close();
    }
  });

  test('links are clickable and safe, right-to-left text reads right to left, no favicon 404', async () => {
    const alice = await openChat(browser, cluster.pageUrl('alice', 'text'));
    const missing = [];
    const bob = await (async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      page.on('response', (r) => { if (r.status() >= 400) missing.push(r.url()); });
      await page.goto(cluster.pageUrl('bob', 'text'));
      await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
      return page;
    })();

    await say(alice, 'see https://example.org/a_(b)?q=1. and javascript:alert(1) or http://x.test/path, ok');
    const body = bubbleWith(bob, 'see ');
    await body.waitFor({ timeout: TIMEOUT });
    // The text is all there, as written; two links, without the full stop or comma.
    assert.equal(await body.textContent(), 'see https://example.org/a_(b)?q=1. and javascript:alert(1) or http://x.test/path, ok');
    const links = await body.locator('a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.textContent, a.target, a.rel]));
    assert.deepEqual(links, [
      ['https://example.org/a_(b)?q=1', 'https://example.org/a_(b)?q=1', '_blank', 'noopener noreferrer'],
      ['http://x.test/path', 'http://x.test/path', '_blank', 'noopener noreferrer'],
    ]);

    // Arabic reads right to left; the bubble's text starts at its right edge.
    await say(alice, 'مرحبا بالعالم');
    const arabic = bubbleWith(bob, 'مرحبا');
    await arabic.waitFor({ timeout: TIMEOUT });
    assert.equal(await arabic.getAttribute('dir'), 'auto');
    assert.equal(await arabic.evaluate((e) => getComputedStyle(e).direction), 'rtl');

    assert.match(await bob.locator('link[rel="icon"]').getAttribute('href'), /^data:image\/svg\+xml,/);
    assert.deepEqual(missing, []);
    for (const page of [alice, bob]) await page.context().close();
  });

  test('a hidden tab counts the messages that came in its title', async () => {
    const alice = await openChat(browser, cluster.pageUrl('alice', 'unread'));
    const bob = await openChat(browser, cluster.pageUrl('bob', 'unread'));
    assert.equal(await alice.title(), '#unread · chat-host');
    // As when the user switches to another tab.
    const setHidden = (page, hidden) => page.evaluate((h) => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
      document.dispatchEvent(new Event('visibilitychange'));
    }, hidden);
    await setHidden(alice, true);
    await say(bob, 'one');
    await say(bob, 'two');
    await say(alice, 'mine does not count');
    await bubbleWith(alice, 'two').waitFor({ timeout: TIMEOUT });
    await alice.waitForFunction(() => document.title === '(2) #unread · chat-host', null, { timeout: TIMEOUT });
    await setHidden(alice, false);
    assert.equal(await alice.title(), '#unread · chat-host');
    for (const page of [alice, bob]) await page.context().close();
  });

  test('the time is local, with the full date on hover', async () => {
    const context = await browser.newContext({ timezoneId: 'Asia/Kathmandu', locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(cluster.pageUrl('clock', 'time'));
    await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
    await say(page, 'what time is it');
    const time = page.locator('#log .msg.mine time');
    await page.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
    const stamp = await time.getAttribute('datetime');
    assert.match(stamp, /Z$/);  // the server's UTC timestamp ...
    const inZone = (options) => new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Kathmandu', ...options }).format(new Date(stamp));
    // ... shown in the reader's zone (UTC+5:45), full date in the title.
    assert.equal(await time.textContent(), inZone({ hour: '2-digit', minute: '2-digit' }));
    assert.equal(await time.getAttribute('title'), inZone({ dateStyle: 'full', timeStyle: 'medium' }));
    await context.close();
  });

  test('markup in messages and names is shown as text and runs nothing', async () => {
    const source = readFileSync(CLIENT_HTML, 'utf8');
    assert.doesNotMatch(source, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);

    const name = '<b>mallory</b>';
    const mallory = await openChat(browser, cluster.pageUrl(name, 'xss'));
    const victim = await openChat(browser, cluster.pageUrl('victim', 'xss'));
    await victim.evaluate(() => { window.pwned = false; });
    let dialogs = 0;
    victim.on('dialog', (d) => { dialogs++; d.dismiss(); });
    const img = '<img src=x onerror="window.pwned=true;alert(1)">';
    const script = '<script>window.pwned=true</script>';
    await say(mallory, img);
    await say(mallory, script);
    await bubbleWith(victim, '<script>').waitFor({ timeout: TIMEOUT });
    assert.equal(await bubbleWith(victim, img).first().textContent(), img);
    assert.equal(await bubbleWith(victim, script).first().textContent(), script);
    assert.equal(await victim.locator('#log .msg .sender').first().textContent(), name);
    assert.equal(await victim.locator('#people li', { hasText: name }).textContent(), name);
    assert.equal(await victim.locator('#log img, #log script, #log b, #people b').count(), 0);
    assert.equal(await victim.evaluate(() => window.pwned), false);
    assert.equal(dialogs, 0);
    await screenshot(victim, 'markup-as-text');
    for (const page of [mallory, victim]) await page.context().close();
  });

  test('long words wrap, and the size limit is shown before sending', async () => {
    const page = await openChat(browser, cluster.pageUrl('wordy', 'limits'));
    const word = 'x'.repeat(600);
    await say(page, word);
    const bubble = page.locator('#log .msg.mine');
    await bubble.locator('.state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
    const fits = await page.evaluate(() => {
      const log = document.getElementById('log'), msg = log.querySelector('.msg.mine');
      return log.scrollWidth <= log.clientWidth && msg.getBoundingClientRect().right <= log.getBoundingClientRect().right;
    });
    assert.equal(fits, true);

    // The limit is in bytes of UTF-8, shown from the start.
    assert.equal(await page.locator('#count').textContent(), '0 / 4096');
    await page.locator('#text').fill('é'.repeat(2048));  // 4096 bytes: fine
    assert.equal(await page.locator('#count').textContent(), '4096 / 4096');
    assert.equal(await page.locator('#send').isEnabled(), true);
    await page.locator('#text').fill('é'.repeat(2049));  // 4098 bytes: too long
    assert.match(await page.locator('#count').textContent(), /4098 \/ 4096.*too long/);
    assert.equal(await page.locator('#count.over').count(), 1);
    assert.equal(await page.locator('#send').isDisabled(), true);
    await page.locator('#text').press('Enter');
    assert.equal(await page.locator('#log .msg').count(), 1);  // nothing sent
    assert.equal(await page.locator('#text').inputValue(), 'é'.repeat(2049));  // nothing lost
    await page.context().close();
  });

  test('a reader who scrolled up is not yanked down: a "new messages" pill instead', async () => {
    const writer = await WsPeer.connect(`ws://127.0.0.1:${cluster.ports.ws}/?user=talker&room=scroll`);
    const reader = await openChat(browser, cluster.pageUrl('reader', 'scroll'));
    for (let i = 1; i <= 40; i++) await writer.say('scroll', 'talker', `line ${i}`);
    await bubbleWith(reader, 'line 40').waitFor({ timeout: TIMEOUT });
    const log = reader.locator('#log');
    const atBottom = () => log.evaluate((e) => e.scrollHeight - e.scrollTop - e.clientHeight < 2);
    // At the bottom, the log follows new messages.
    await reader.waitForFunction(() => { const e = document.getElementById('log'); return e.scrollHeight > 2 * e.clientHeight; });
    assert.equal(await atBottom(), true);
    assert.equal(await reader.locator('#pill').isHidden(), true);
    await log.evaluate((e) => { e.scrollTop = 0; });
    await writer.say('scroll', 'talker', 'line 41');
    await reader.locator('#pill').waitFor({ state: 'visible', timeout: TIMEOUT });
    assert.equal(await log.evaluate((e) => e.scrollTop), 0);
    await screenshot(reader, 'new-messages-pill');
    await reader.locator('#pill').click();
    await reader.locator('#pill').waitFor({ state: 'hidden', timeout: TIMEOUT });
    assert.equal(await atBottom(), true);
    assert.equal(await bubbleWith(reader, 'line 41').isVisible(), true);
    writer.close();
    await reader.context().close();
  });

  test('remembers the user, switches room and user without reloading, the URL says where', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${cluster.ports.http}/`);
    await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
    assert.match(await page.locator('#user').inputValue(), /^guest-/);  // a first visit gets a name

    // Pick a name and a room with the identity form.
    await page.locator('#user').fill('dana');
    await page.locator('#room').fill('first');
    await page.locator('#room').press('Enter');
    await page.locator('#people li', { hasText: 'dana (you)' }).waitFor({ timeout: TIMEOUT });
    assert.equal(new URL(page.url()).search, '?room=first&user=dana');
    assert.equal(await page.evaluate(() => localStorage.getItem('chat.user')), 'dana');
    await say(page, 'in the first room');
    await page.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });

    // Coming back without parameters: the same user (and room).
    await page.goto(`http://127.0.0.1:${cluster.ports.http}/`);
    await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
    assert.equal(await page.locator('#user').inputValue(), 'dana');
    assert.equal(await page.locator('#room').inputValue(), 'first');
    await bubbleWith(page, 'in the first room').waitFor({ timeout: TIMEOUT });

    // Switch room, then user, in place: no reload (the marker survives).
    const watcher = await openChat(browser, cluster.pageUrl('watcher', 'second'));
    await page.evaluate(() => { window.sameDocument = true; });
    await page.locator('#room').fill('second');
    await page.locator('#room').press('Enter');
    await watcher.locator('#log .event', { hasText: 'dana joined' }).waitFor({ timeout: TIMEOUT });
    assert.equal(new URL(page.url()).search, '?room=second&user=dana');
    assert.equal(await page.locator('#log .msg').count(), 0);  // the first room's messages are gone
    await say(watcher, 'welcome to the second room');
    await bubbleWith(page, 'welcome to the second room').waitFor({ timeout: TIMEOUT });

    await page.locator('#user').fill('dana2');
    await page.locator('#user').press('Enter');
    await watcher.locator('#log .event', { hasText: 'dana2 joined' }).waitFor({ timeout: TIMEOUT });
    await watcher.locator('#log .event', { hasText: 'dana left' }).waitFor({ timeout: TIMEOUT });
    await page.locator('#people li', { hasText: 'dana2 (you)' }).waitFor({ timeout: TIMEOUT });
    assert.equal(new URL(page.url()).search, '?room=second&user=dana2');
    assert.equal(await page.evaluate(() => window.sameDocument), true);
    assert.equal(await page.title(), '#second · chat-host');

    // The link opens the same room as the same user, elsewhere too.
    const other = await openChat(browser, page.url());
    assert.equal(await other.locator('#room').inputValue(), 'second');
    assert.equal(await other.locator('#user').inputValue(), 'dana2');
    await bubbleWith(other, 'welcome to the second room').waitFor({ timeout: TIMEOUT });
    for (const p of [page, watcher, other]) await p.context().close();
  });

  test('history browses by user and loads older pages while live messages are counted', async () => {
    const writer = await WsPeer.connect(`ws://127.0.0.1:${cluster.ports.ws}/?user=writer&room=archive`);
    const other = await WsPeer.connect(`ws://127.0.0.1:${cluster.ports.ws}/?user=other&room=archive`);
    // Zed wrote before the latest pages: the filter knows him from the server.
    const zed = await WsPeer.connect(`ws://127.0.0.1:${cluster.ports.ws}/?user=Zed&room=archive`);
    await zed.say('archive', 'Zed', 'first!');
    zed.close();
    for (let i = 1; i <= 60; i++) {
      if (i % 3 === 0) await other.say('archive', 'other', `note ${i}`);
      else await writer.say('archive', 'writer', `note ${i}`);
    }

    const reader = await openChat(browser, cluster.pageUrl('reader', 'archive'));
    await reader.locator('#tab-history').click();
    assert.equal(await reader.locator('#tab-history').getAttribute('aria-selected'), 'true');
    assert.equal(await reader.locator('#composer').isHidden(), true);  // browsing, not chatting
    const history = reader.locator('#history .msg .body');
    await history.nth(49).waitFor({ timeout: TIMEOUT });
    assert.equal(await history.count(), 50);  // one page
    assert.equal(await history.last().textContent(), 'note 60');
    // The filter offers everyone who wrote in the room (GET /history/senders),
    // Zed too though no page shows him yet, sorted as people read names.
    await reader.waitForFunction(() => document.querySelectorAll('#history-user option').length === 4, null, { timeout: TIMEOUT });
    assert.deepEqual(await reader.locator('#history-user option').allTextContents(), ['everyone', 'other', 'writer', 'Zed']);
    await reader.locator('#history .older').click();
    await history.nth(60).waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await history.allTextContents(), ['first!', ...Array.from({ length: 60 }, (_, i) => `note ${i + 1}`)]);
    assert.equal(await reader.locator('#history .older').count(), 0);
    assert.deepEqual(await reader.locator('#history-user option').allTextContents(), ['everyone', 'other', 'writer', 'Zed']);
    await reader.locator('#history-user').selectOption('other');
    await reader.waitForFunction(() => document.querySelectorAll('#history .msg').length === 20, null, { timeout: TIMEOUT });
    assert.deepEqual([...new Set(await reader.locator('#history .msg .sender').allTextContents())], ['other']);
    assert.equal(await history.last().textContent(), 'note 60');
    assert.equal(await history.first().textContent(), 'note 3');
    await screenshot(reader, 'history-filtered');

    // Live messages keep arriving while browsing; the switch counts them.
    await writer.say('archive', 'writer', 'while you read');
    await writer.say('archive', 'writer', 'and another');
    await reader.locator('#unseen', { hasText: '2' }).waitFor({ timeout: TIMEOUT });
    assert.match(await reader.locator('#tab-history').getAttribute('aria-label'), /2 new/);
    await reader.locator('#tab-live').click();
    await bubbleWith(reader, 'and another').waitFor({ timeout: TIMEOUT });
    assert.equal(await reader.locator('#unseen').isHidden(), true);
    assert.equal(await reader.locator('#composer').isVisible(), true);

    // A newcomer writes while the reader is live: the filter has her, in her place.
    const amy = await WsPeer.connect(`ws://127.0.0.1:${cluster.ports.ws}/?user=amy&room=archive`);
    await amy.say('archive', 'amy', 'hi all');
    amy.close();
    await bubbleWith(reader, 'hi all').waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await reader.locator('#history-user option').allTextContents(), ['everyone', 'amy', 'other', 'writer', 'Zed']);

    // Paging a filtered history: everyone again, then one user over two pages.
    for (let i = 61; i <= 120; i++) await other.say('archive', 'other', `more ${i}`);
    await reader.locator('#tab-history').click();
    await reader.waitForFunction(() => document.querySelectorAll('#history-user option').length === 5, null, { timeout: TIMEOUT });
    await reader.locator('#history-user').selectOption('other');
    await history.nth(49).waitFor({ timeout: TIMEOUT });
    await reader.locator('#history .older').click();
    await history.nth(79).waitFor({ timeout: TIMEOUT });
    assert.equal(await history.count(), 80);
    assert.deepEqual([...new Set(await reader.locator('#history .msg .sender').allTextContents())], ['other']);
    assert.equal(await history.first().textContent(), 'note 3');
    writer.close(); other.close();
    await reader.context().close();
  });

  test('opened from a file: defaults to localhost, editable in Settings', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`file://${CLIENT_HTML}?user=filer&room=files`);
    await page.locator('#settings-open').click();
    assert.equal(await page.locator('#ws-url').inputValue(), 'ws://localhost:8080');
    assert.equal(await page.locator('#history-url').inputValue(), 'http://localhost:8081');
    await page.locator('#ws-url').fill(`ws://127.0.0.1:${cluster.ports.ws}`);
    await page.locator('#history-url').fill(`http://127.0.0.1:${cluster.ports.http}`);
    await page.locator('#settings button[value="save"]').click();
    await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
    await say(page, 'from a file');
    await page.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
    await page.locator('#tab-history').click();
    await page.locator('#history .msg .body', { hasText: 'from a file' }).waitFor({ timeout: TIMEOUT });
    // The settings stick.
    await page.reload();
    await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
    await context.close();
  });

  test('served: the page takes its URLs from /config.json', async () => {
    const page = await openChat(browser, cluster.pageUrl('served', 'config'));
    await page.locator('#settings-open').click();
    assert.equal(await page.locator('#ws-url').inputValue(), `ws://127.0.0.1:${cluster.ports.ws}`);
    assert.equal(await page.locator('#history-url').inputValue(), `http://127.0.0.1:${cluster.ports.http}`);
    await page.keyboard.press('Escape');
    await page.context().close();
  });

  test('keyboard alone: sensible focus order, send, switch views, change room', async () => {
    const page = await openChat(browser, cluster.pageUrl('keys', 'keyboard'));
    await page.evaluate(() => document.activeElement.blur());
    const order = [];
    for (let i = 0; i < 10 && order.length < 7; i++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => document.activeElement === document.body ? null
        : document.activeElement.id || document.activeElement.textContent.trim().slice(0, 20));
      if (focused) order.push(focused);
    }
    assert.deepEqual(order, ['user', 'room', 'Go', 'settings-open', 'tab-live', 'log', 'text']);

    await page.keyboard.type('first line');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('second line');
    await page.keyboard.press('Enter');
    const body = page.locator('#log .msg.mine .body').first();
    await body.waitFor({ timeout: TIMEOUT });
    assert.equal(await body.textContent(), 'first line\nsecond line');
    assert.equal(await page.locator('#text').inputValue(), '');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'text');  // ready for the next one

    // To the history and back with the arrow keys of the tab list.
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-live');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-history');
    await page.locator('#history .msg .body', { hasText: 'second line' }).waitFor({ timeout: TIMEOUT });
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'history-user');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.locator('#tab-live').getAttribute('aria-selected'), 'true');

    // Another room, typed into the form.
    await page.locator('#room').focus();
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.type('keyboard-2');
    await page.keyboard.press('Enter');
    await page.waitForURL(/room=keyboard-2/, { timeout: TIMEOUT });
    await page.locator('#text').focus();
    await page.keyboard.type('in the new room');
    await page.keyboard.press('Enter');
    await page.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await liveBodies(page), ['in the new room']);

    // Settings open and close from the keyboard.
    await page.locator('#settings-open').focus();
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'ws-url');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('#settings').isHidden(), true);
    await page.context().close();
  });

  test('on a phone a long room scrolls, with the newest message, the composer and History on screen', async () => {
    const room = 'phone-long';
    const peers = [];
    for (let i = 0; i < 11; i++) {
      peers.push(await WsPeer.connect(`ws://127.0.0.1:${cluster.ports.ws}/?user=p${i}&room=${room}`));
    }
    for (let i = 0; i < 40; i++) await peers[i % 11].say(room, `p${i % 11}`, `message ${i}: ${'words '.repeat(8)}`);
    const page = await openChat(browser, cluster.pageUrl('phone', room), { viewport: { width: 360, height: 740 } });
    await bubbleWith(page, 'message 39:').waitFor({ timeout: TIMEOUT });

    // The people strip is one folded line, however many are in the room.
    await page.locator('#people-toggle', { hasText: '12 people ▾' }).waitFor({ timeout: TIMEOUT });
    assert.ok((await page.locator('#people-pane').boundingBox()).height < 40);
    const onScreen = async (selector) => {
      const box = await page.locator(selector).boundingBox();
      return !!box && box.x >= 0 && box.y >= 0 && box.x + box.width <= 360 && box.y + box.height <= 740;
    };
    for (const selector of ['#dot', '#tab-history', '#people-toggle', '#log', '#text', '#send']) {
      assert.ok(await onScreen(selector), `${selector} is on the screen`);
    }
    // The log scrolls inside its own box, below the tabs, and shows the newest message.
    const log = await page.locator('#log').evaluate((e) => ({
      scrolls: e.scrollHeight > e.clientHeight + 100,
      atBottom: e.scrollHeight - e.scrollTop - e.clientHeight < 2,
    }));
    assert.deepEqual(log, { scrolls: true, atBottom: true });
    const [logBox, tabsBox, newest] = await Promise.all([page.locator('#log').boundingBox(),
      page.locator('.modebar').boundingBox(), bubbleWith(page, 'message 39:').boundingBox()]);
    assert.ok(logBox.y >= tabsBox.y + tabsBox.height - 1, 'the log starts below the tabs');
    assert.ok(newest.y + newest.height <= logBox.y + logBox.height + 1, 'the newest message is in view');
    await screenshot(page, 'phone-long-room');

    // Opened, the list stays short and scrolls; the composer stays.
    await page.locator('#people-toggle').click();
    await page.locator('#people li', { hasText: 'p10' }).waitFor({ timeout: TIMEOUT });
    assert.equal(await page.locator('#people-toggle').getAttribute('aria-expanded'), 'true');
    assert.ok((await page.locator('#people').boundingBox()).height <= 740 * 0.3 + 1);
    assert.ok(await onScreen('#text'));
    await page.locator('#people-toggle').click();

    await page.locator('#tab-history').click();
    await page.locator('#history .msg').first().waitFor({ timeout: TIMEOUT });
    assert.ok(await onScreen('#history'));
    for (const peer of peers) peer.close();
    await page.context().close();
  });

  test('fits a 360 px wide screen, labels every control, readable contrast', async () => {
    const page = await openChat(browser, cluster.pageUrl('narrow', 'phone'), { viewport: { width: 360, height: 640 } });
    const friend = await openChat(browser, cluster.pageUrl('friend', 'phone'));
    await say(friend, 'a message from a friend, long enough to need a second line on a phone');
    await say(page, 'and my answer');
    await page.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
    await page.locator('#people-toggle', { hasText: '2 people ▾' }).waitFor({ timeout: TIMEOUT });

    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
    for (const id of ['people-toggle', 'text', 'send', 'user', 'room', 'tab-history']) {
      const box = await page.locator(`#${id}`).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 360, `#${id} is on the screen`);
    }
    for (const label of ['User', 'Room', 'Message']) {
      assert.equal(await page.getByLabel(label, { exact: true }).count(), 1, `no control labelled ${label}`);
    }
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
      .filter((c) => !(c.labels?.length || c.getAttribute('aria-label') || c.textContent.trim()))
      .map((c) => c.outerHTML.slice(0, 60)));
    assert.deepEqual(unnamed, []);
    assert.deepEqual(await lowContrastText(page), []);
    assert.deepEqual(await lowContrastText(friend), []);
    await screenshot(page, 'narrow-screen');
    await page.locator('#tab-history').click();
    await page.locator('#history .msg').first().waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await lowContrastText(page), []);
    for (const p of [page, friend]) await p.context().close();
  });
});

describe('web client with tokens', () => {
  let browser, cluster, secret;
  before(async () => {
    browser = await launchBrowser();
    secret = randomBytes(48).toString('base64');
    const secretFile = join(tempDir('tokens'), 'token-secret');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    cluster = await startCluster('tokens', { authSecretFile: secretFile });
  });
  after(async () => {
    await browser?.close();
    await cluster?.stop();
  });

  test('asks for a token, then sends it with the WebSocket and with history', async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const page = await context.newPage();
    const sockets = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    await page.goto(cluster.pageUrl('guest', 'vault'));
    await page.locator('#status-text', { hasText: 'wants a token' }).waitFor({ timeout: TIMEOUT });
    assert.deepEqual(sockets, []);

    const token = mintToken(secret, 'alice');
    await page.locator('#settings-open').click();
    await page.locator('#token').fill(token);
    await page.locator('#settings button[value="save"]').click();
    await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
    assert.equal(await page.locator('#user').inputValue(), 'alice');  // the token's subject
    assert.equal(new URL(sockets.at(-1)).searchParams.get('access_token'), token);
    await say(page, 'for token holders');
    await page.locator('#log .msg.mine .state', { hasText: 'sent' }).waitFor({ timeout: TIMEOUT });
    // History answers only with the token (Authorization: Bearer).
    await page.locator('#tab-history').click();
    await page.locator('#history .msg .body', { hasText: 'for token holders' }).waitFor({ timeout: TIMEOUT });
    // The token lives as long as the tab: in sessionStorage, never on the disk.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('chat.token')), token);
    assert.equal(await page.evaluate(() => localStorage.getItem('chat.token')), null);
    await context.close();
  });
});
