// Starts the chatgql binary on a free port over a fresh SQLite file and waits for /healthz.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = process.env.CHATGQL_BIN ?? resolve(import.meta.dirname, '../../target/debug/chatgql');

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

export async function startServer(extraEnv = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'chatgql-node-'));
  const child = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      CHATGQL_ADDR: `127.0.0.1:${port}`,
      DATABASE_URL: `sqlite://${dir}/chat.db?mode=rwc`,
      JWT_SECRET: 'node-interop-secret-node-interop-secret',
      RUST_LOG: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`chatgql exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('chatgql never became healthy');
    await new Promise((r) => setImmediate(r));
  }
  return {
    base,
    ws: `ws://127.0.0.1:${port}/graphql`,
    async gql(query, variables = {}, token) {
      const r = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = await r.json();
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    },
    stop() {
      child.kill('SIGTERM');
      return new Promise((ok) => child.once('exit', ok));
    },
  };
}
