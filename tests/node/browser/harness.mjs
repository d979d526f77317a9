// What the browser tests share: real chat-host processes on free loopback
// ports, and Debian's headless Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

export const HOST_BINARY = process.env.CHATHOST_BINARY;
export const SOURCE_DIR = process.env.CHATHOST_SOURCE_DIR;
export const ARTIFACTS = process.env.CHATHOST_ARTIFACTS || join(tmpdir(), 'chat-host-browser-artifacts');
if (!HOST_BINARY || !SOURCE_DIR) throw new Error('set CHATHOST_BINARY and CHATHOST_SOURCE_DIR (CTest does)');
mkdirSync(ARTIFACTS, { recursive: true });

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// The hosts' configs and stores; removed when the test process exits (what a
// failure needs to be understood is in the host's output and ARTIFACTS).
const tempDirs = [];
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
export const tempDir = (name) => {
  const dir = mkdtempSync(join(tmpdir(), `chathost-browser-${name}-`));
  tempDirs.push(dir);
  return dir;
};

// A chat-host process. `toml` is the whole config; the ready line's endpoints
// come back as { 'grpc-chat': 'grpc://127.0.0.1:1234', ... }.
export class Host {
  constructor(name, toml, dir = tempDir(name)) {
    this.name = name;
    this.dir = dir;
    this.config = join(dir, `${name}.toml`);
    writeFileSync(this.config, toml);
    this.output = '';
  }

  start(timeoutMs = 15000) {
    const env = { ...process.env };
    for (const key of Object.keys(env)) {
      if (/^(GRPC_|WS_|HTTP_|ADMIN_|CHATHOST_|CHAT_|AUTH_)/.test(key)) delete env[key];
    }
    this.process = spawn(HOST_BINARY, ['--config', this.config], { cwd: this.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.process.once('exit', (code, signal) => resolve({ code, signal })));
    const collect = (chunk) => { this.output += chunk.toString(); };
    this.process.stdout.on('data', collect);
    this.process.stderr.on('data', collect);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} not ready:\n${this.output}`)), timeoutMs);
      const check = () => {
        const match = this.output.match(/ready in \d+ ms: (.*)/);
        if (!match) return;
        clearTimeout(timer);
        this.process.stderr.off('data', check);
        this.endpoints = {};
        // "grpc-chat grpc://127.0.0.1:1, ws-proxy ws://127.0.0.1:2, ..."
        for (const part of match[1].split(', ')) {
          const [plugin, ...urls] = part.trim().split(' ');
          this.endpoints[plugin] = urls;
        }
        resolve(this);
      };
      this.process.stderr.on('data', check);
      this.process.once('exit', () => reject(new Error(`${this.name} exited before ready:\n${this.output}`)));
    });
  }

  port(plugin) {
    const url = (this.endpoints[plugin] || [])[0];
    if (!url) throw new Error(`${this.name} has no endpoint for ${plugin}`);
    return Number(new URL(url.replace(/^grpc:/, 'http:')).port);
  }

  async stop() {
    if (!this.process || this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill('SIGTERM');
    let timer;
    const result = await Promise.race([this.exited, new Promise((r) => { timer = setTimeout(() => r(null), 15000); })]);
    clearTimeout(timer);  // or it holds the test process open for its whole 15 s
    if (result === null) this.process.kill('SIGKILL');
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export const screenshot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

// ---- configurations: a grpc-chat host, and bridge hosts (ws-proxy + history-http)

// The service token every host of this test process shares, as the hosts of
// one deployment do: grpc-chat wants it of every caller, the bridges present it.
let serviceTokenPath = null;
export function serviceTokenFile() {
  if (!serviceTokenPath) {
    serviceTokenPath = join(tempDir('service-token'), 'service-token');
    writeFileSync(serviceTokenPath, `the browser tests' service token, ${process.pid}\n`, { mode: 0o600 });
  }
  return serviceTokenPath;
}

export function chatToml(port, extra = '') {
  return `[host]
plugins = ["grpc-chat"]
[grpc-chat]
host = "127.0.0.1"
port = ${port}
store = "sqlite"
sync = "normal"
store_path = "data/chat.db"
service_token_file = "${serviceTokenFile()}"
${extra}`;
}

// `authSecretFile`: bearer tokens on, in both plugins (docs/http-api.md, "Tokens").
export function bridgeToml({ chatPort, wsPort, httpPort, plugins = ['ws-proxy', 'history-http'], reconnectMs = [100, 500],
                             authSecretFile = '' }) {
  return `[host]
plugins = ${JSON.stringify(plugins)}
[ws-proxy]
host = "127.0.0.1"
port = ${wsPort}
chat_host = "127.0.0.1"
chat_port = ${chatPort}
allowed_origins = ["*"]
reconnect_min_ms = ${reconnectMs[0]}
reconnect_max_ms = ${reconnectMs[1]}
auth_secret_file = "${authSecretFile}"
service_token_file = "${serviceTokenFile()}"
[history-http]
host = "127.0.0.1"
port = ${httpPort}
chat_host = "127.0.0.1"
chat_port = ${chatPort}
ws_port = ${wsPort}
allowed_origins = ["*"]
web_root = "${join(SOURCE_DIR, 'web')}"
auth_secret_file = "${authSecretFile}"
service_token_file = "${serviceTokenFile()}"
`;
}

// One grpc-chat host and one bridge host, on ports chosen now so that either
// can be restarted where it was. `peerBridge` adds a second host running
// ws-proxy only: "another proxy" in front of the same chat service.
// `bridgeReconnectMs` is the first bridge's backoff towards the chat service.
export async function startCluster(name, { chatExtra = '', peerBridge = false, bridgeReconnectMs, authSecretFile } = {}) {
  const ports = { chat: await freePort(), ws: await freePort(), http: await freePort() };
  const chat = await new Host(`${name}-chat`, chatToml(ports.chat, chatExtra)).start();
  const bridge = await new Host(`${name}-bridge`,
    bridgeToml({ chatPort: ports.chat, wsPort: ports.ws, httpPort: ports.http, reconnectMs: bridgeReconnectMs,
                 authSecretFile })).start();
  let peer = null;
  if (peerBridge) {
    ports.peerWs = await freePort();
    peer = await new Host(`${name}-peer`, bridgeToml({ chatPort: ports.chat, wsPort: ports.peerWs,
      httpPort: await freePort(), plugins: ['ws-proxy'] })).start();
  }
  const pageUrl = (user, room) => {
    const query = new URLSearchParams();
    if (room !== undefined) query.set('room', room);
    if (user !== undefined) query.set('user', user);
    return `http://127.0.0.1:${ports.http}/?${query}`;
  };
  const stop = async () => { await peer?.stop(); await bridge.stop(); await chat.stop(); };
  return { ports, chat, bridge, peer, pageUrl, stop };
}

// A bearer token for `sub`, as chat-token issues it: a JWT signed with HS256.
export function mintToken(secret, sub, ttlSeconds = 3600) {
  const part = (object) => Buffer.from(JSON.stringify(object)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const signed = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, iat: now, exp: now + ttlSeconds })}`;
  return `${signed}.${createHmac('sha256', secret).update(signed).digest('base64url')}`;
}

// ---- the page

export const TIMEOUT = 15000;

export async function openChat(browser, url, { viewport = { width: 1000, height: 700 }, clock = false } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  if (clock) await page.clock.install();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(url);
  await page.locator('#dot.connected').waitFor({ timeout: TIMEOUT });
  return page;
}

export async function say(page, text) {
  await page.locator('#text').fill(text);
  await page.keyboard.press('Enter');
}

export const bubbleWith = (page, text) => page.locator('#log .msg .body', { hasText: text });
export const liveBodies = (page) => page.locator('#log .msg .body').allTextContents();

// The status dot's colour, by hue: 'green', 'orange' or 'red'.
export async function dotColour(page) {
  const [r, g, b] = await page.locator('#dot').evaluate((dot) =>
    getComputedStyle(dot).backgroundColor.match(/[\d.]+/g).map(Number));
  if (g > r && g > b) return 'green';
  if (r > g && g >= 80 && g > b) return 'orange';
  if (r > 150 && g < 80 && b < 80) return 'red';
  return `rgb(${r}, ${g}, ${b})`;
}

// Visible text whose contrast with what is behind it is below WCAG AA
// (4.5:1, or 3:1 for large text). Disabled controls are exempt, as in WCAG.
export function lowContrastText(page) {
  return page.evaluate(() => {
    const channels = (colour) => colour.match(/[\d.]+/g).map(Number);
    const luminance = (rgb) => {
      const [r, g, b] = rgb.map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const blend = (top, alpha, bottom) => top.map((c, i) => c * alpha + bottom[i] * (1 - alpha));
    function background(node) {
      const layers = [];
      for (let e = node; e; e = e.parentElement) {
        const [r, g, b, a = 1] = channels(getComputedStyle(e).backgroundColor);
        if (a > 0) layers.push([[r, g, b], a]);
        if (a === 1) break;
      }
      return layers.reverse().reduce((under, [rgb, a]) => blend(rgb, a, under), [255, 255, 255]);
    }
    const failures = [];
    for (const node of document.body.querySelectorAll('*')) {
      const ownText = [...node.childNodes].some((c) => c.nodeType === Node.TEXT_NODE && c.textContent.trim());
      if (!ownText || !node.checkVisibility({ visibilityProperty: true }) || node.closest(':disabled')) continue;
      const style = getComputedStyle(node);
      let opacity = 1;
      for (let e = node; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
      const under = background(node);
      const [r, g, b, a = 1] = channels(style.color);
      const fg = blend([r, g, b], a * opacity, under);
      const [hi, lo] = [luminance(fg), luminance(under)].sort((x, y) => y - x);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
      const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
      if (ratio < needed) failures.push(`${node.tagName.toLowerCase()}.${node.className} "${node.textContent.trim().slice(0, 30)}": ${ratio.toFixed(2)}`);
    }
    return failures;
  });
}

// ---- a client of the exercise's kind, with the `ws` package: the "other
// proxy"'s user in the tests, quicker to drive than a second page.
export class WsPeer {
  static async connect(url) {
    const socket = new WebSocket(url);
    const peer = new WsPeer(socket);
    await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
    return peer;
  }

  constructor(socket) {
    this.socket = socket;
    this.frames = [];
    this.next = 0;
    socket.on('message', (data) => this.frames.push(JSON.parse(String(data))));
  }

  async waitFor(predicate, what, timeoutMs = TIMEOUT) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.find(predicate);
      if (frame) return frame;
      if (Date.now() > deadline) throw new Error(`peer: no ${what} in ${JSON.stringify(this.frames)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  // Sends until the chat service acknowledges (it may still be coming back);
  // a resend is never stored twice.
  async say(room, sender, content, timeoutMs = TIMEOUT) {
    const id = `peer-${this.next++}`;
    const deadline = Date.now() + timeoutMs;
    for (let resend = false; ; resend = true) {
      const from = this.frames.length;
      this.socket.send(JSON.stringify({ chat_message: { id, room_id: room, sender_id: sender, content, ...(resend && { resend }) } }));
      const answer = await this.waitFor((f, i) => i >= from && (f.ack?.id === id || f.error?.id === id), `answer to ${id}`);
      if (answer.ack) return answer.ack;
      if (Date.now() > deadline) throw new Error(`peer: ${content} refused: ${JSON.stringify(answer.error)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  messages(content) { return this.frames.filter((f) => f.chat_message?.content === content); }
  close() { this.socket.close(); }
}
