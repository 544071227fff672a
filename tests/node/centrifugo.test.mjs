// chatgql bridged to a real Centrifugo v6, seen by the reference client (npm centrifuge).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';

import { centrifugoBin, startCentrifugo } from './centrifugo.mjs';
import { startServer } from './server.mjs';

const WAIT_MS = 10000;
const PERMISSION_DENIED = 103;

// Skipped (with the reason) without CENTRIFUGO_BIN; under CI that is an error instead.
const found = centrifugoBin();

/** Resolves like `promise`, or rejects naming `what` once `ms` have passed. */
function within(promise, what, ms = WAIT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('chatgql with Centrifugo', { skip: found.skip }, () => {
  let cf;
  let server;
  const clients = [];
  let alice;
  let bob;
  let roomId;

  /** POST /graphql returning the whole body ({data, errors}). */
  async function gqlRaw(query, variables, token) {
    const r = await fetch(`${server.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    return r.json();
  }

  async function register(username) {
    const d = await server.gql(
      'mutation($u: String!, $p: String!) { register(username: $u, password: $p) { accessToken user { id } } }',
      { u: username, p: 'correct horse battery' },
    );
    return { token: d.register.accessToken, id: d.register.user.id };
  }

  const realtime = (user) =>
    server
      .gql('{ realtime { mode centrifugoUrl connectionToken personalChannel } }', {}, user.token)
      .then((d) => d.realtime);

  const roomChannelToken = (user, room) =>
    server
      .gql('query($r: ID!) { roomChannelToken(roomId: $r) { channel token } }', { r: room }, user.token)
      .then((d) => d.roomChannelToken);

  /** A fresh Centrifuge client for `user`, fetching its connection token from chatgql. */
  async function connect(user) {
    const info = await realtime(user);
    const errors = [];
    const client = new Centrifuge(info.centrifugoUrl, {
      websocket: WebSocket,
      getToken: async () => (await realtime(user)).connectionToken,
    });
    client.on('error', (ctx) => errors.push(ctx));
    clients.push(client);
    client.connect();
    return { client, info, errors };
  }

  /**
   * Subscribes `sub`, collecting its publications, and waits until it is subscribed (resolves
   * with the `subscribed` context) or unsubscribed by the server (rejects with code and reason).
   */
  function subscribe(sub, publications = []) {
    const errors = [];
    sub.on('publication', (ctx) => publications.push(ctx));
    sub.on('error', (ctx) => errors.push(ctx));
    const settled = new Promise((resolve, reject) => {
      sub.once('subscribed', resolve);
      sub.once('unsubscribed', (ctx) => {
        const e = new Error(`${sub.channel} unsubscribed: ${ctx.code} ${ctx.reason}`);
        e.code = ctx.code;
        e.reason = ctx.reason;
        reject(e);
      });
    });
    sub.subscribe();
    return within(settled, `a subscribe answer on ${sub.channel}`).catch((e) => {
      if (errors.length) e.message += ` (subscription errors: ${JSON.stringify(errors)})`;
      throw e;
    });
  }

  /** Waits until `publications` (filled by `subscribe`) holds one matching `pred`; returns it. */
  function publicationWhere(publications, sub, pred, what) {
    return within(
      new Promise((resolve) => {
        const hit = publications.find((p) => pred(p.data));
        if (hit) return resolve(hit);
        const onPub = (ctx) => {
          if (!pred(ctx.data)) return;
          sub.removeListener('publication', onPub);
          resolve(ctx);
        };
        sub.on('publication', onPub);
      }),
      `${what} on ${sub.channel} (got ${JSON.stringify(publications.map((p) => p.data))})`,
    );
  }

  before(async () => {
    cf = await startCentrifugo(found.bin);
    server = await startServer({
      CENTRIFUGO_URL: cf.base,
      CENTRIFUGO_API_KEY: cf.apiKey,
      CENTRIFUGO_TOKEN_SECRET: cf.tokenSecret,
      // Derived from CENTRIFUGO_URL; make sure nothing from the calling shell overrides it.
      CENTRIFUGO_WS_URL: undefined,
    });
    alice = await register('cf_alice');
    bob = await register('cf_bob');
    const { createRoom } = await server.gql('mutation { createRoom(name: "centrifugo") { id } }', {}, alice.token);
    roomId = createRoom.id;
  });

  after(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
    await cf?.stop();
  });

  it('realtime reports Centrifugo mode, its WebSocket URL, a connection token and the personal channel', async () => {
    const info = await realtime(alice);
    assert.equal(info.mode, 'CENTRIFUGO');
    assert.equal(info.personalChannel, `personal:#${alice.id}`);
    assert.equal(info.centrifugoUrl, cf.wsUrl);
    assert.equal(typeof info.connectionToken, 'string');
    const claims = JSON.parse(Buffer.from(info.connectionToken.split('.')[1], 'base64url').toString());
    assert.equal(claims.sub, alice.id, 'the connection token is for the viewer');
    assert.ok(claims.exp > Date.now() / 1000, 'the connection token has not expired');
  });

  it('a message reaches both the room channel and the personal channel, exactly as sendMessage returned it', async () => {
    const { client, info, errors } = await connect(alice);
    const personal = client.newSubscription(info.personalChannel);
    const room = client.newSubscription(`room:${roomId}`, {
      getToken: async () => {
        const t = await roomChannelToken(alice, roomId);
        assert.equal(t.channel, `room:${roomId}`);
        return t.token;
      },
    });
    const personalPubs = [];
    const roomPubs = [];
    try {
      await Promise.all([subscribe(personal, personalPubs), subscribe(room, roomPubs)]);
    } catch (e) {
      if (errors.length) e.message += ` (client errors: ${JSON.stringify(errors)})`;
      throw e;
    }

    const send = (content, clientId) =>
      server
        .gql(
          `mutation($r: ID!, $c: String!, $k: String) { sendMessage(roomId: $r, content: $c, clientId: $k) {
            id roomId author { id username createdAt } content createdAt clientId } }`,
          { r: roomId, c: content, k: clientId },
          alice.token,
        )
        .then((d) => d.sendMessage);
    const isMessage = (clientId) => (d) => d?.__typename === 'MessageAdded' && d.message?.clientId === clientId;

    const message = await send('hi', 'c-1');
    const expected = { __typename: 'MessageAdded', roomId, message };
    const [onRoom, onPersonal] = await Promise.all([
      publicationWhere(roomPubs, room, isMessage('c-1'), 'the MessageAdded publication'),
      publicationWhere(personalPubs, personal, isMessage('c-1'), 'the MessageAdded publication'),
    ]);
    assert.deepEqual(onRoom.data, expected);
    assert.deepEqual(onPersonal.data, expected);

    // A retried sendMessage returns the first message and publishes nothing: the next message is
    // the very next MessageAdded on both channels (publications keep commit order per room).
    assert.deepEqual(await send('hi', 'c-1'), message);
    const next = await send('there', 'c-2');
    await Promise.all([
      publicationWhere(roomPubs, room, isMessage('c-2'), 'the second MessageAdded publication'),
      publicationWhere(personalPubs, personal, isMessage('c-2'), 'the second MessageAdded publication'),
    ]);
    for (const [name, pubs] of [['room', roomPubs], ['personal', personalPubs]]) {
      const added = pubs.map((p) => p.data).filter((d) => d?.__typename === 'MessageAdded');
      assert.deepEqual(
        added.map((d) => d.message.id),
        [message.id, next.id],
        `MessageAdded publications on the ${name} channel`,
      );
    }
    client.disconnect();
  });

  it("Centrifugo refuses another user's personal channel", async () => {
    const { client } = await connect(alice);
    const sub = client.newSubscription(`personal:#${bob.id}`);
    await assert.rejects(subscribe(sub), (e) => {
      assert.equal(e.code, PERMISSION_DENIED, e.message);
      return true;
    });
    client.disconnect();
  });

  it('Centrifugo refuses a room channel without a subscription token', async () => {
    const { client } = await connect(alice);
    const sub = client.newSubscription(`room:${roomId}`);
    await assert.rejects(subscribe(sub), (e) => {
      assert.equal(e.code, PERMISSION_DENIED, e.message);
      return true;
    });
    client.disconnect();
  });

  it('roomChannelToken is FORBIDDEN to a non-member', async () => {
    const body = await gqlRaw(
      'query($r: ID!) { roomChannelToken(roomId: $r) { channel token } }',
      { r: roomId },
      bob.token,
    );
    assert.ok(Array.isArray(body.errors) && body.errors.length > 0, `expected an error, got ${JSON.stringify(body)}`);
    assert.equal(body.errors[0].extensions?.code, 'FORBIDDEN', JSON.stringify(body.errors));
    assert.equal(body.data?.roomChannelToken ?? null, null, 'no token is handed out');
  });
});
