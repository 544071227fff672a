/**
 * Live events for the signed-in user: Centrifugo's personal channel when the server says
 * `CENTRIFUGO`, otherwise the `myEvents` GraphQL subscription. Both call `onLive` every time the
 * stream (re)starts, so the caller can refetch what a gap may have hidden.
 *
 * In Centrifugo mode the open room's channel `room:<id>` is joined as well (`watchRoom`): the
 * server reads who is online from Centrifugo presence there. Its publications are ignored (the
 * personal channel carries every event); its join/leave events report presence changes.
 */
import {
  Centrifuge,
  UnauthorizedError,
  type Options as CentrifugeOptions,
  type Subscription,
  type SubscriptionOptions,
} from 'centrifuge';
import { createClient, type Client } from 'graphql-ws';
import { GqlError, isTransient } from '../lib/graphql';
import { MY_EVENTS, REALTIME, REALTIME_TOKEN, ROOM_CHANNEL_TOKEN } from '../lib/operations';
import type { Session } from '../lib/session';
import { asRoomEvent, type RealtimeInfo, type RealtimeMode, type RoomEvent } from '../lib/types';

export type RealtimeStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface RealtimeHandlers {
  onEvent(event: RoomEvent): void;
  /**
   * The stream is (again) delivering. `lost` is true when events may have been missed since
   * the last delivery (first start, a reconnect without recovery, or failed recovery).
   */
  onLive(lost: boolean): void;
  onStatus(status: RealtimeStatus): void;
  /**
   * Who is present in a watched room may have changed: the room subscription became active, or
   * someone joined or left its channel (`userId`: Centrifugo's `info.user`, the user id).
   */
  onRoomPresence?(roomId: string, change: RoomPresenceChange): void;
}

export interface RoomPresenceChange {
  kind: 'subscribed' | 'join' | 'leave';
  userId?: string;
}

export interface RealtimeConnection {
  readonly mode: RealtimeMode;
  /**
   * Be present in this room (null: in none), replacing the room watched before. Centrifugo
   * mode only (a subscription to `room:<id>`); elsewhere absent or a no-op. Never throws.
   */
  watchRoom?(roomId: string | null): void;
  stop(): void;
}

/** The Centrifugo channel of a room. */
export function roomChannel(roomId: string): string {
  return `room:${roomId}`;
}

/** `ws(s)://<host>/graphql` for the page's origin. */
export function graphqlWsUrl(loc: { protocol: string; host: string } = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/graphql`;
}

/** Asks the server which transport to use and starts it. */
export interface RealtimeOptions {
  /** GraphQL WebSocket URL; defaults to the page's own `/graphql`. */
  wsUrl?: string;
  /** WebSocket class (tests). */
  webSocketImpl?: unknown;
  /** Delay before reconnect attempt `n` (tests). */
  backoff?: (attempt: number) => number;
  /** Extra options for the Centrifugo client (tests: a WebSocket double, short delays). */
  centrifuge?: Partial<CentrifugeOptions>;
  /** Extra options for the room channel subscription (tests: short resubscribe delays). */
  roomSubscription?: Partial<SubscriptionOptions>;
}

export async function startRealtime(
  session: Session,
  handlers: RealtimeHandlers,
  opts: RealtimeOptions = {},
): Promise<RealtimeConnection> {
  handlers.onStatus('connecting');
  let realtime: RealtimeInfo;
  try {
    ({ realtime } = await session.request<{ realtime: RealtimeInfo }>(REALTIME));
  } catch (e) {
    // A server that refuses the question itself (no such field, a bug) still has `myEvents`.
    if (!(e instanceof GqlError) || e.code === 'UNAUTHENTICATED' || isTransient(e)) throw e;
    return startGraphqlWs(session, handlers, { ...opts, wsUrl: opts.wsUrl ?? graphqlWsUrl() });
  }
  if (realtime.mode === 'CENTRIFUGO' && realtime.centrifugoUrl) {
    return startCentrifugo(session, realtime, handlers, opts.centrifuge, opts.roomSubscription);
  }
  return startGraphqlWs(session, handlers, { ...opts, wsUrl: opts.wsUrl ?? graphqlWsUrl() });
}

function startCentrifugo(
  session: Session,
  info: RealtimeInfo,
  handlers: RealtimeHandlers,
  extra: Partial<CentrifugeOptions> = {},
  roomExtra: Partial<SubscriptionOptions> = {},
): RealtimeConnection {
  const client = new Centrifuge(info.centrifugoUrl!, {
    ...extra,
    token: info.connectionToken ?? undefined,
    // Called when Centrifugo wants a new connection token (expired, or on reconnect after 109).
    getToken: async () => {
      const data = await session.request<{ realtime: { connectionToken: string | null } }>(REALTIME_TOKEN);
      return data.realtime.connectionToken ?? '';
    },
  });
  const sub: Subscription =
    client.getSubscription(info.personalChannel) ?? client.newSubscription(info.personalChannel);
  let subscribedBefore = false;
  sub.on('publication', (ctx) => {
    const event = asRoomEvent(ctx.data);
    if (event) handlers.onEvent(event);
  });
  sub.on('subscribed', (ctx) => {
    // A first subscribe, or a resubscribe whose missed publications were not recovered, means
    // the GraphQL state must be refetched.
    const lost = !subscribedBefore || !ctx.wasRecovering || !ctx.recovered;
    subscribedBefore = true;
    handlers.onStatus('live');
    handlers.onLive(lost);
  });
  sub.on('subscribing', () => handlers.onStatus(subscribedBefore ? 'reconnecting' : 'connecting'));
  client.on('disconnected', () => handlers.onStatus('stopped'));
  sub.subscribe();
  client.connect();

  let stopped = false;
  let room: Subscription | null = null;
  const dropRoom = () => {
    const r = room;
    room = null;
    if (!r) return;
    try {
      r.removeAllListeners();
      client.removeSubscription(r); // unsubscribes first
    } catch (e) {
      console.warn(`realtime: leaving ${r.channel} failed`, e);
    }
  };
  const watchRoom = (roomId: string | null) => {
    const channel = roomId === null ? null : roomChannel(roomId);
    if (stopped || (room?.channel ?? null) === channel) return;
    dropRoom();
    if (roomId === null || channel === null) return;
    try {
      const existing = client.getSubscription(channel);
      if (existing) client.removeSubscription(existing);
      const r = client.newSubscription(channel, {
        ...roomExtra,
        getToken: async () => {
          try {
            const data = await session.request<{ roomChannelToken: { channel: string; token: string } }>(
              ROOM_CHANNEL_TOKEN,
              { roomId },
            );
            if (data.roomChannelToken.channel !== channel) {
              throw new UnauthorizedError(`token is for ${data.roomChannelToken.channel}, not ${channel}`);
            }
            return data.roomChannelToken.token;
          } catch (e) {
            // Refused (not a member, no such room, signed out): give up on this room. A network
            // or server hiccup is thrown as is, so centrifuge tries again with backoff.
            if (e instanceof GqlError && !isTransient(e)) {
              console.warn(`realtime: no token for ${channel} (${e.code}); online presence is off for this room`);
              throw new UnauthorizedError(e.message);
            }
            throw e;
          }
        },
      });
      const report = (kind: RoomPresenceChange['kind'], userId?: string) => {
        if (room !== r) return;
        try {
          handlers.onRoomPresence?.(roomId, userId === undefined ? { kind } : { kind, userId });
        } catch (e) {
          console.warn('realtime: room presence handler failed', e);
        }
      };
      r.on('subscribed', () => report('subscribed'));
      r.on('join', (ctx) => report('join', ctx.info.user));
      r.on('leave', (ctx) => report('leave', ctx.info.user));
      // Publications are not listened to: the personal channel delivers the same events.
      r.on('error', (ctx) => console.warn(`realtime: ${channel} ${ctx.type} error`, ctx.error));
      r.on('unsubscribed', (ctx) => {
        if (ctx.code !== 0) console.warn(`realtime: ${channel} unsubscribed (${ctx.code} ${ctx.reason})`);
      });
      room = r;
      r.subscribe();
    } catch (e) {
      console.warn(`realtime: cannot subscribe to ${channel}`, e);
      dropRoom();
    }
  };

  return {
    mode: 'CENTRIFUGO',
    watchRoom,
    stop() {
      stopped = true;
      dropRoom();
      sub.unsubscribe();
      sub.removeAllListeners();
      client.removeSubscription(sub);
      client.disconnect();
      handlers.onStatus('stopped');
    },
  };
}

/** Close code the server uses for a missing, bad or expired token. */
export const UNAUTHORIZED_CLOSE = 4401;

function closeCode(err: unknown): number | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'number') {
    return (err as { code: number }).code;
  }
  return undefined;
}

function isAuthError(err: unknown): boolean {
  if (closeCode(err) === UNAUTHORIZED_CLOSE) return true;
  if (err instanceof GqlError) return err.has('UNAUTHENTICATED');
  if (Array.isArray(err)) return err.some((e) => e?.extensions?.code === 'UNAUTHENTICATED');
  return false;
}

/** The `myEvents` subscription over graphql-ws, reconnecting with a fresh token as needed. */
export function startGraphqlWs(
  session: Session,
  handlers: RealtimeHandlers,
  opts: RealtimeOptions & { wsUrl: string },
): RealtimeConnection {
  const delayFor = opts.backoff ?? backoff;
  let stopped = false;
  let needRefresh = false;
  let attempt = 0;
  let connectedBefore = false;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let dispose: (() => void) | null = null;

  const client: Client = createClient({
    url: opts.wsUrl,
    webSocketImpl: opts.webSocketImpl,
    lazy: true,
    keepAlive: 20_000,
    retryAttempts: Number.MAX_SAFE_INTEGER,
    shouldRetry: () => !stopped,
    retryWait: (retries) => wait(delayFor(retries)),
    // Evaluated on every (re)connect, so a reconnect carries a fresh token.
    connectionParams: async () => {
      const token = await session.accessToken({ forceRefresh: needRefresh });
      needRefresh = false;
      return { authorization: `Bearer ${token}` };
    },
    on: {
      connected: () => {
        attempt = 0;
        // The subscribe message follows the ack, so refetching now closes any gap.
        handlers.onStatus('live');
        handlers.onLive(true);
        connectedBefore = true;
      },
      closed: (ev) => {
        if (closeCode(ev) === UNAUTHORIZED_CLOSE) needRefresh = true;
        if (!stopped) handlers.onStatus(connectedBefore ? 'reconnecting' : 'connecting');
      },
    },
  });

  const subscribe = () => {
    if (stopped) return;
    dispose = client.subscribe<{ myEvents: unknown }>(
      { query: MY_EVENTS },
      {
        next: (result) => {
          const event = asRoomEvent(result.data?.myEvents);
          if (event) handlers.onEvent(event);
        },
        error: (err) => {
          if (isAuthError(err)) needRefresh = true;
          retry();
        },
        complete: () => retry(),
      },
    );
  };

  const retry = () => {
    dispose = null;
    if (stopped || retryTimer) return;
    if (!session.value) {
      // Signed out: nothing to reconnect for.
      handlers.onStatus('stopped');
      return;
    }
    handlers.onStatus('reconnecting');
    const delay = needRefresh && attempt === 0 ? 0 : delayFor(attempt);
    attempt++;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      subscribe();
    }, delay);
  };

  subscribe();
  return {
    mode: 'IN_PROCESS',
    stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      dispose?.();
      void client.dispose();
      handlers.onStatus('stopped');
    },
  };
}

/** Reconnect delay: 0.5 s doubling to 15 s, with jitter. */
export function backoff(attempt: number): number {
  const base = Math.min(15_000, 500 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

function wait(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
