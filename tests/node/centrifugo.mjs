// Starts a real Centrifugo server (binary from CENTRIFUGO_BIN) on a free port with the
// repository's centrifugo.json, and waits for its /health endpoint.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

import { freePort } from './server.mjs';

export const API_KEY = 'node-interop-centrifugo-api-key';
export const TOKEN_SECRET = 'node-interop-centrifugo-token-secret-0123456789';

// The repository's centrifugo.json (the namespaces users run); address, port and secrets are
// overridden by the environment below.
const CONFIG = resolve(import.meta.dirname, '../../centrifugo.json');

/**
 * Where the Centrifugo binary is, or why there is none. Without CENTRIFUGO_BIN a test is skipped
 * locally (with `skip` as the message) and fails under CI.
 */
export function centrifugoBin() {
  const bin = process.env.CENTRIFUGO_BIN;
  if (bin) return { bin };
  const why = 'CENTRIFUGO_BIN is not set (point it at a Centrifugo v6 binary, e.g. "$(scripts/centrifugo.sh)")';
  if (process.env.CI) throw new Error(`${why}; it is required under CI`);
  return { skip: why };
}

export async function startCentrifugo(bin, { timeoutMs = 15000 } = {}) {
  const port = await freePort();
  // Nothing CENTRIFUGO_* from the caller's environment: chatgql's own CENTRIFUGO_URL etc. (and
  // CENTRIFUGO_BIN) are not Centrifugo settings, and a developer's settings must not leak in.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toUpperCase().startsWith('CENTRIFUGO_')));
  Object.assign(env, {
    CENTRIFUGO_HTTP_SERVER_ADDRESS: '127.0.0.1',
    CENTRIFUGO_HTTP_SERVER_PORT: String(port),
    CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY: TOKEN_SECRET,
    CENTRIFUGO_HTTP_API_KEY: API_KEY,
    CENTRIFUGO_HEALTH_ENABLED: 'true',
    CENTRIFUGO_USAGE_STATS_DISABLED: 'true',
    CENTRIFUGO_LOG_LEVEL: 'warn',
  });
  const child = spawn(bin, ['-c', CONFIG], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  let spawnError;
  child.once('error', (e) => {
    spawnError = e;
  });
  const base = `http://127.0.0.1:${port}`;
  const stop = () => {
    if (child.exitCode !== null || child.signalCode !== null || spawnError) return Promise.resolve();
    const exited = new Promise((ok) => child.once('exit', ok));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    return exited.finally(() => clearTimeout(force));
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`cannot start centrifugo (${bin}): ${spawnError.message}`);
    if (child.exitCode !== null) throw new Error(`centrifugo exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`centrifugo never became healthy on ${base} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    base,
    port,
    wsUrl: `ws://127.0.0.1:${port}/connection/websocket`,
    apiKey: API_KEY,
    tokenSecret: TOKEN_SECRET,
    /** Server API call; returns `result` or throws on an API error. */
    async api(method, params = {}) {
      const r = await fetch(`${base}/api/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY },
        body: JSON.stringify(params),
      });
      if (!r.ok) throw new Error(`centrifugo api ${method}: HTTP ${r.status}`);
      const body = await r.json();
      if (body.error) throw new Error(`centrifugo api ${method}: ${JSON.stringify(body.error)}`);
      return body.result;
    },
    stop,
  };
}
