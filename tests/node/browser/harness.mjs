// What the browser tests share: real chat-host processes on free loopback
// ports, and Debian's headless Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

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

export const tempDir = (name) => mkdtempSync(join(tmpdir(), `chathost-browser-${name}-`));

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
      if (/^(GRPC_|WS_|HTTP_|ADMIN_|CHATHOST_|CHAT_)/.test(key)) delete env[key];
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
    const result = await Promise.race([this.exited, new Promise((r) => setTimeout(() => r(null), 15000))]);
    if (result === null) this.process.kill('SIGKILL');
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
}

export const screenshot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
