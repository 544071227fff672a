// The protocol's reference client (npm graphql-ws) against chatgql's WebSocket endpoint.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { startServer } from './server.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

const ROOM_EVENTS = `subscription($r: ID!, $a: ID) { roomEvents(roomId: $r, after: $a) { __typename
  ... on MessageAdded { roomId message { id content clientId author { username } } } } }`;

async function register(username) {
  const d = await server.gql(
    'mutation($u: String!, $p: String!) { register(username: $u, password: $p) { accessToken user { id } } }',
    { u: username, p: 'correct horse battery' },
  );
  return d.register.accessToken;
}

test('graphql-ws client subscribes, receives and completes', async () => {
  const token = await register('nodeuser');
  const { createRoom } = await server.gql('mutation { createRoom(name: "interop") { id } }', {}, token);
  const client = createClient({
    url: server.ws,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const received = [];
  const done = new Promise((resolve, reject) => {
    const unsubscribe = client.subscribe(
      { query: ROOM_EVENTS, variables: { r: createRoom.id, a: '0' } },
      {
        next(value) {
          const ev = value.data.roomEvents;
          if (ev.__typename !== 'MessageAdded') return;
          received.push(ev);
          if (received.length === 3) unsubscribe();
        },
        error: reject,
        complete: resolve,
      },
    );
  });
  for (const [i, text] of ['one', 'two', 'three'].entries()) {
    await server.gql(
      'mutation($r: ID!, $c: String!, $k: String) { sendMessage(roomId: $r, content: $c, clientId: $k) { id } }',
      { r: createRoom.id, c: text, k: `k${i}` },
      token,
    );
  }
  await done;
  assert.deepEqual(
    received.map((e) => [e.roomId, e.message.content, e.message.clientId, e.message.author.username]),
    [
      [createRoom.id, 'one', 'k0', 'nodeuser'],
      [createRoom.id, 'two', 'k1', 'nodeuser'],
      [createRoom.id, 'three', 'k2', 'nodeuser'],
    ],
  );
  await client.dispose();
});

test('graphql-ws client is refused with 4401 for a bad token', async () => {
  const closed = new Promise((resolve) => {
    const client = createClient({
      url: server.ws,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: 'Bearer not-a-token' },
      retryAttempts: 0,
      on: { closed: (event) => resolve(event.code) },
    });
    client.subscribe({ query: 'subscription { myEvents { __typename } }' }, { next() {}, error() {}, complete() {} });
  });
  assert.equal(await closed, 4401);
});
