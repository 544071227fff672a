// End-to-end tests of the web client and GraphiQL against a running chatgql server.
//
//   CHATGQL_E2E_URL=http://127.0.0.1:8080 [CHATGQL_E2E_REALTIME=CENTRIFUGO|IN_PROCESS] npm run e2e
//
// Drives Debian's Chromium through playwright-core (no browser download). Screenshots go to
// e2e-artifacts/ (e2e-artifacts/centrifugo/ when CENTRIFUGO is expected; CHATGQL_E2E_ARTIFACTS
// overrides) on every run. Every wait is on visible UI state with a timeout.
//
// With CHATGQL_E2E_REALTIME set, the run also proves the client uses that transport: the server
// must answer `realtime { mode }` with it, the app pages must open their WebSocket to it (the
// Centrifugo URL, or the server's own /graphql) and to nothing else, and messages must reach the
// other browser as frames on that socket.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = (process.env.CHATGQL_E2E_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const HEADED = process.env.E2E_HEADED === '1';
const REALTIME = process.env.CHATGQL_E2E_REALTIME || '';
if (REALTIME && !['CENTRIFUGO', 'IN_PROCESS'].includes(REALTIME)) {
  console.error(`CHATGQL_E2E_REALTIME must be CENTRIFUGO or IN_PROCESS (got ${REALTIME})`);
  process.exit(2);
}
const ARTIFACTS =
  process.env.CHATGQL_E2E_ARTIFACTS ||
  join(dirname(fileURLToPath(import.meta.url)), '..', 'e2e-artifacts', ...(REALTIME === 'CENTRIFUGO' ? ['centrifugo'] : []));
const DELIVERY_MS = 2_000; // a message must show on the other side within this
const UI_MS = 10_000; // generous bound for page loads and ordinary UI steps

mkdirSync(ARTIFACTS, { recursive: true });
// Failure screenshots of an earlier run would otherwise outlive a green one.
for (const f of readdirSync(ARTIFACTS)) if (/^failure-.*\.png$/.test(f)) rmSync(join(ARTIFACTS, f));

const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const alice = { username: `alice_${suffix}`, password: 'correct-horse-1' };
const bob = { username: `bob_${suffix}`, password: 'correct-horse-2' };
const roomName = `e2e room ${suffix}`;

const results = [];
let browser;
/** Pages to capture when a step fails. */
const pages = new Map();

/**
 * Runs one step. A failing step is recorded and, unless `fatal` is false (nothing later depends
 * on it), ends the run.
 */
async function step(name, fn, { fatal = true } = {}) {
  const started = Date.now();
  const n = results.length + 1;
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    results.push({ name, ok: false, err });
    for (const [label, page] of pages) {
      if (page.isClosed()) continue;
      await page.screenshot({ path: join(ARTIFACTS, `failure-${n}-${label}.png`) }).catch(() => undefined);
    }
    console.log(`FAIL ${name} (${Date.now() - started} ms)\n     ${String(err?.stack || err).split('\n').slice(0, 6).join('\n     ')}`);
    if (fatal) throw err;
  }
}

async function waitForHealth(timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${BASE}/healthz`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = String(e?.cause?.code || e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${BASE}/healthz did not answer 200 within ${timeoutMs} ms (${last})`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, name), fullPage: false });
}

/** Registers through the sign-in form and waits for the chat shell. */
async function register(page, user) {
  await page.goto(`${BASE}/`);
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  if (user === alice) await shot(page, 'register-1280x800.png');
  await page.getByRole('button', { name: 'Register', exact: true }).click();
  await page.getByTestId('me').filter({ hasText: user.username }).waitFor({ timeout: UI_MS });
}

function composer(page) {
  return page.getByRole('textbox', { name: /^Message / });
}

function messageIn(page, text) {
  return page.getByTestId('messages').locator('li.msg[data-status="sent"] .content', { hasText: text });
}

async function sendMessage(page, text) {
  const box = composer(page);
  await box.click();
  await box.fill(text);
  await box.press('Enter');
}

async function accessToken(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('chatgql.session') || 'null')?.accessToken);
}

/** Replaces the text of a GraphiQL (Monaco) editor as a paste would. */
async function setEditor(page, editor, text) {
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

/** The text of a Monaco editor as its model holds it (the DOM only renders visible lines). */
async function editorText(editor) {
  return editor.evaluate((el) => el.querySelector('.view-lines')?.textContent?.replace(/\u00a0/g, ' ') ?? '');
}

/**
 * WebSockets opened by the chat app pages, with the text frames they received, so a run can
 * prove which transport carried the events.
 */
const sockets = new Map(); // page -> { list: [{ url, frames: string[] }], waiters: Set<(url, text) => void> }
/** URL of the WebSocket the app must use, once the transport step has checked it. */
let transportUrl = null;

function trackSockets(page) {
  const tracked = { list: [], waiters: new Set() };
  sockets.set(page, tracked);
  page.on('websocket', (ws) => {
    const entry = { url: ws.url(), frames: [] };
    tracked.list.push(entry);
    ws.on('framereceived', ({ payload }) => {
      const text = typeof payload === 'string' ? payload : payload.toString('utf8');
      entry.frames.push(text);
      for (const w of tracked.waiters) w(entry.url, text);
    });
  });
}

function isTransportSocket(url) {
  return transportUrl !== null && (url === transportUrl || url.startsWith(`${transportUrl}?`));
}

/**
 * Resolves when a frame containing `text` has arrived on one of `page`'s transport sockets
 * (including one opened later by a reconnect); rejects after `timeoutMs`. Call it before the
 * action that causes the frame.
 */
function frameOnTransport(page, text, timeoutMs) {
  const tracked = sockets.get(page);
  return new Promise((resolve, reject) => {
    const waiter = (url, frame) => {
      if (!isTransportSocket(url) || !frame.includes(text)) return;
      clearTimeout(timer);
      tracked.waiters.delete(waiter);
      resolve();
    };
    const timer = setTimeout(() => {
      tracked.waiters.delete(waiter);
      const seen = tracked.list.map((e) => `${e.url} (${e.frames.length} frames)`).join(', ');
      reject(new Error(`no frame containing ${JSON.stringify(text)} on ${transportUrl} within ${timeoutMs} ms; sockets: ${seen}`));
    }, timeoutMs);
    tracked.waiters.add(waiter);
    for (const e of tracked.list) for (const f of e.frames) waiter(e.url, f);
  });
}

async function main() {
  await waitForHealth();
  console.log(`server ${BASE} is up`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: !HEADED,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ].filter((a) => !(HEADED && a === '--headless')),
  });
  const wide = { width: 1280, height: 800 };
  const ctxA = await browser.newContext({ viewport: wide });
  const ctxB = await browser.newContext({ viewport: wide });
  const pageA = await ctxA.newPage();
  const pageB = await ctxB.newPage();
  for (const [who, p] of [['alice', pageA], ['bob', pageB]]) {
    pages.set(who, p);
    trackSockets(p);
    p.on('pageerror', (e) => console.log(`[${who} pageerror] ${e.message}`));
  }

  await step('two users register in two browser contexts', async () => {
    await Promise.all([register(pageA, alice), register(pageB, bob)]);
  });

  if (REALTIME) {
    await step(`the app's realtime transport is ${REALTIME}`, async () => {
      for (const [who, page] of [['alice', pageA], ['bob', pageB]]) {
        // Asked from inside the app's page, with the app's own signed-in token.
        const body = await page.evaluate(async () => {
          const token = JSON.parse(localStorage.getItem('chatgql.session') || 'null')?.accessToken;
          const res = await fetch('/graphql', {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ query: '{ me { id } realtime { mode centrifugoUrl connectionToken personalChannel } }' }),
          });
          return res.json();
        });
        const rt = body?.data?.realtime;
        if (rt?.mode !== REALTIME) throw new Error(`${who}: realtime { mode } is ${rt?.mode}, expected ${REALTIME}: ${JSON.stringify(body)}`);
        let expected;
        if (REALTIME === 'CENTRIFUGO') {
          if (!/^wss?:\/\//.test(rt.centrifugoUrl || '')) throw new Error(`${who}: centrifugoUrl is ${rt.centrifugoUrl}`);
          if (!rt.connectionToken) throw new Error(`${who}: no connectionToken`);
          if (rt.personalChannel !== `personal:#${body.data.me.id}`) throw new Error(`${who}: personalChannel is ${rt.personalChannel}`);
          expected = rt.centrifugoUrl;
        } else {
          if (rt.centrifugoUrl || rt.connectionToken) throw new Error(`${who}: IN_PROCESS yet Centrifugo details: ${JSON.stringify(rt)}`);
          expected = `${BASE.replace(/^http/, 'ws')}/graphql`;
        }
        if (transportUrl !== null && transportUrl !== expected) throw new Error(`transport URLs differ: ${transportUrl} vs ${expected}`);
        transportUrl = expected;
        await page.getByRole('status', { name: 'Realtime: Live' }).waitFor({ timeout: UI_MS });
        const urls = sockets.get(page).list.map((e) => e.url);
        if (!urls.some(isTransportSocket)) throw new Error(`${who}: no WebSocket to ${expected}; opened: ${urls.join(', ') || 'none'}`);
        const other = urls.filter((u) => !isTransportSocket(u));
        if (other.length) throw new Error(`${who}: WebSockets besides ${expected}: ${other.join(', ')}`);
      }
      console.log(`     realtime ${REALTIME} over ${transportUrl}`);
    });
  }

  let roomId;
  await step('alice creates a room', async () => {
    await pageA.getByLabel('New room name').fill(roomName);
    await pageA.getByRole('button', { name: 'Create' }).click();
    await pageA.getByRole('heading', { level: 1, name: roomName }).waitFor({ timeout: UI_MS });
    await composer(pageA).waitFor({ timeout: UI_MS });
    roomId = decodeURIComponent(new URL(pageA.url()).pathname.split('/').pop());
    if (!roomId) throw new Error(`no room id in ${pageA.url()}`);
  });

  await step('bob finds the room by search and joins it', async () => {
    await pageB.getByLabel('Search rooms').fill(suffix);
    const join = pageB.getByRole('button', { name: `Join ${roomName}` }).first();
    await join.waitFor({ timeout: UI_MS });
    await join.click();
    await pageB.getByRole('heading', { level: 1, name: roomName }).waitFor({ timeout: UI_MS });
    await composer(pageB).waitFor({ timeout: UI_MS });
    await pageA.getByTestId('member-count').filter({ hasText: '2 members' }).waitFor({ timeout: UI_MS });
  });

  await step(`alice → bob arrives within ${DELIVERY_MS} ms`, async () => {
    const text = `hello bob ${suffix}`;
    const framed = REALTIME ? frameOnTransport(pageB, text, DELIVERY_MS) : null;
    framed?.catch(() => undefined); // awaited below
    await sendMessage(pageA, text);
    await messageIn(pageB, text).waitFor({ timeout: DELIVERY_MS });
    await messageIn(pageA, text).waitFor({ timeout: DELIVERY_MS });
    await framed;
  });

  await step(`bob → alice arrives within ${DELIVERY_MS} ms`, async () => {
    const text = `hi alice ${suffix}`;
    const framed = REALTIME ? frameOnTransport(pageA, text, DELIVERY_MS) : null;
    framed?.catch(() => undefined); // awaited below
    await sendMessage(pageB, text);
    await messageIn(pageA, text).waitFor({ timeout: DELIVERY_MS });
    await framed;
  });

  await step('a multi-line message (Shift+Enter) is sent once', async () => {
    const box = composer(pageA);
    await box.click();
    await box.pressSequentially('line one');
    await box.press('Shift+Enter');
    await box.pressSequentially('line two');
    await box.press('Enter');
    await messageIn(pageB, 'line one\nline two').waitFor({ timeout: DELIVERY_MS });
    const count = await pageA.getByTestId('messages').locator('li.msg .content', { hasText: 'line two' }).count();
    if (count !== 1) throw new Error(`expected the message once on the sender's side, saw ${count}`);
  });

  await step('the typing indicator shows on the other side', async () => {
    // Bob keeps typing for a few seconds, as a person would; the client sends `sendTyping` at
    // most every 2 s and the server may drop one that follows his last message too closely.
    const shown = pageA.getByTestId('typing').filter({ hasText: `${bob.username} is typing` }).waitFor({ timeout: 6_000 });
    shown.catch(() => undefined); // awaited below; keeps an early failure from being "unhandled"
    await composer(pageB).click();
    await composer(pageB).pressSequentially('typing a longer sentence here…', { delay: 110 });
    await shown;
    await composer(pageB).fill('');
  });

  await step('a page reload keeps the session and the history', async () => {
    await pageB.reload();
    await pageB.getByRole('heading', { level: 1, name: roomName }).waitFor({ timeout: UI_MS });
    await messageIn(pageB, `hello bob ${suffix}`).waitFor({ timeout: UI_MS });
    await messageIn(pageB, `hi alice ${suffix}`).waitFor({ timeout: UI_MS });
  });

  await step('the online list shows the other member', async () => {
    // Alice has had the app open all along; Bob's reload above loaded the room's online list.
    try {
      await pageB.getByTestId('online').filter({ hasText: alice.username }).waitFor({ timeout: UI_MS });
    } catch (e) {
      const shown = await pageB.getByTestId('online').textContent().catch(() => null);
      const body = await pageB.evaluate(async (id) => {
        const token = JSON.parse(localStorage.getItem('chatgql.session') || 'null')?.accessToken;
        const res = await fetch('/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: 'query($id: ID!) { room(id: $id) { online { username } } }', variables: { id } }),
        });
        return res.json();
      }, roomId);
      throw new Error(`${alice.username} not in bob's online list (shows ${JSON.stringify(shown)}; room.online: ${JSON.stringify(body)})`, { cause: e });
    }
  }, { fatal: false });

  await step('screenshots of the room view (wide and narrow)', async () => {
    await shot(pageA, 'room-wide-1280x800.png');
    const narrow = await ctxA.newPage();
    pages.set('narrow', narrow);
    await narrow.setViewportSize({ width: 390, height: 844 });
    await narrow.goto(`${BASE}/rooms/${encodeURIComponent(roomId)}`);
    await messageIn(narrow, `hi alice ${suffix}`).waitFor({ timeout: UI_MS });
    if (await narrow.locator('.sidebar').isVisible()) throw new Error('the room list should be hidden in the narrow room view');
    await shot(narrow, 'room-narrow-390x844.png');
    await narrow.getByRole('button', { name: 'Back to rooms' }).click();
    await narrow.getByRole('button', { name: new RegExp(roomName) }).first().waitFor({ timeout: UI_MS });
    await shot(narrow, 'rooms-narrow-390x844.png');
    await narrow.close();
  });

  const token = await accessToken(pageA);
  const gq = await ctxA.newPage();
  pages.set('graphiql', gq);
  gq.on('pageerror', (e) => console.log(`[graphiql pageerror] ${e.message}`));
  const queryEditor = gq.locator('.graphiql-query-editor .monaco-editor').first();
  const headersEditor = gq.locator('.graphiql-editor-tool .monaco-editor').last();
  const response = gq.locator('.graphiql-response');

  await step('GraphiQL runs { me { username } } with a pasted Authorization header', async () => {
    if (!token) throw new Error('no access token in localStorage');
    await gq.goto(`${BASE}/graphiql`);
    await queryEditor.waitFor({ timeout: UI_MS * 2 });
    await setEditor(gq, queryEditor, '{ me { username } }');
    await gq.getByRole('button', { name: 'Headers', exact: true }).click();
    await headersEditor.waitFor({ timeout: UI_MS });
    await setEditor(gq, headersEditor, JSON.stringify({ Authorization: `Bearer ${token}` }));
    const q = await editorText(queryEditor);
    if (!q.includes('me { username }')) throw new Error(`query editor holds: ${q}`);
    await gq.getByRole('button', { name: /Execute query/i }).click();
    await response.filter({ hasText: alice.username }).waitFor({ timeout: UI_MS });
    await shot(gq, 'graphiql-query.png');
  });

  await step('a GraphiQL subscription receives a message sent from the app', async () => {
    const sub = `subscription { roomEvents(roomId: "${roomId}") { __typename ... on MessageAdded { message { content } } } }`;
    await setEditor(gq, queryEditor, sub);
    await gq.getByRole('button', { name: /Execute query/i }).click();
    // The execute button turns into a stop button while the subscription runs.
    await gq.getByRole('button', { name: /Stop query/i }).waitFor({ timeout: UI_MS });
    const text = `to graphiql ${suffix}`;
    const deadline = Date.now() + UI_MS;
    // Until the server has registered the subscription, a message may precede it: send until one shows.
    let n = 0;
    for (;;) {
      n++;
      await sendMessage(pageB, `${text} #${n}`);
      try {
        await response.filter({ hasText: text }).waitFor({ timeout: DELIVERY_MS });
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
    }
    await response.filter({ hasText: 'MessageAdded' }).waitFor({ timeout: 1_000 });
    await shot(gq, 'graphiql-subscription.png');
    await gq.getByRole('button', { name: /Stop query/i }).click();
  });

  await step('older history loads when scrolled to the top, without duplicates', async () => {
    const SEED = 60;
    for (let i = 1; i <= SEED; i++) await apiSend(token, roomId, `seed ${i} ${suffix}`);
    await messageIn(pageB, `seed ${SEED} ${suffix}`).waitFor({ timeout: UI_MS });
    await pageB.reload();
    await messageIn(pageB, `seed ${SEED} ${suffix}`).waitFor({ timeout: UI_MS });
    const first = messageIn(pageB, `hello bob ${suffix}`);
    if (await first.count()) throw new Error('the first page should not hold the oldest message');
    await pageB.getByRole('button', { name: 'Load older messages' }).waitFor({ timeout: UI_MS });
    await pageB.getByLabel('Messages').evaluate((el) => el.scrollTo({ top: 0 }));
    await first.waitFor({ timeout: UI_MS });
    await shot(pageB, 'history-older-1280x800.png');
    const ids = await pageB.getByTestId('messages').locator('li.msg[data-status="sent"]').evaluateAll((els) => els.map((e) => e.dataset.id));
    if (new Set(ids).size !== ids.length) throw new Error(`duplicate messages: ${ids.join(',')}`);
    const seeds = await pageB.getByTestId('messages').locator('li.msg .content', { hasText: /^seed \d+ / }).count();
    if (seeds !== SEED) throw new Error(`expected ${SEED} seeded messages, saw ${seeds}`);
  });

  await ctxA.close();
  await ctxB.close();
}

/** Sends a message through the API (retrying politely if the server rate-limits). */
async function apiSend(token, roomId, content) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${BASE}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query: 'mutation Seed($roomId: ID!, $content: String!) { sendMessage(roomId: $roomId, content: $content) { id } }',
        variables: { roomId, content },
      }),
    });
    const body = await res.json().catch(() => null);
    if (body?.data?.sendMessage?.id) return;
    const limited = res.status === 429 || body?.errors?.some((e) => e.extensions?.code === 'TOO_MANY_REQUESTS');
    if (!limited || attempt >= 20) throw new Error(`sendMessage failed: HTTP ${res.status} ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
  }
}

let failed = false;
try {
  await main();
} catch {
  failed = true;
} finally {
  await browser?.close().catch(() => undefined);
}
const passed = results.filter((r) => r.ok).length;
const failedCount = results.filter((r) => !r.ok).length + (failed && results.every((r) => r.ok) ? 1 : 0);
console.log(`screenshots in ${ARTIFACTS}`);
console.log(`${passed} passed, ${failedCount} failed`);
process.exit(failedCount > 0 ? 1 : 0);
