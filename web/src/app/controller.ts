/**
 * The app's side effects: GraphQL calls and the realtime stream, feeding the pure chat reducer.
 * React components read the store and call these methods; nothing here touches the DOM.
 */
import { GqlError, isTransient } from '../lib/graphql';
import {
  CREATE_ROOM,
  JOIN_ROOM,
  LEAVE_ROOM,
  MESSAGES,
  ROOM,
  ROOM_ONLINE,
  ROOMS,
  SEND_MESSAGE,
  SEND_TYPING,
} from '../lib/operations';
import type { Session } from '../lib/session';
import { createThrottle, newClientId } from '../lib/throttle';
import type { Connection, Message, Room, RoomEvent, User } from '../lib/types';
import type { RealtimeConnection, RealtimeHandlers } from '../realtime/realtime';
import { chatReducer, initialState, type ChatAction, type ChatState } from '../state/chat';
import { createStore, type Store } from '../state/store';

export const HISTORY_PAGE = 50;
export const TYPING_INTERVAL_MS = 2_000;
const SEND_ATTEMPTS = 3;

export interface ControllerOptions {
  startRealtime?: (session: Session, handlers: RealtimeHandlers) => Promise<RealtimeConnection>;
  now?: () => number;
  newClientId?: () => string;
  /** Delay before an automatic resend after a transient failure. */
  retryDelayMs?: (attempt: number) => number;
  /** How long presence changes in the open room are gathered before `room { online }` is asked. */
  onlineRefreshDelayMs?: number;
}

/** A human sentence for an error shown in the UI. */
export function describeError(e: unknown): string {
  if (e instanceof GqlError) {
    switch (e.code) {
      case 'NETWORK_ERROR':
        return 'The server cannot be reached. Check your connection.';
      case 'TOO_MANY_REQUESTS':
        return 'Too many requests. Please wait a moment.';
      case 'INTERNAL_SERVER_ERROR':
        return 'Something went wrong on the server.';
      default:
        return e.message;
    }
  }
  return e instanceof Error ? e.message : String(e);
}

export class ChatController {
  readonly store: Store<ChatState, ChatAction>;
  private readonly session: Session;
  private readonly opts: ControllerOptions;
  private readonly now: () => number;
  private realtime: RealtimeConnection | null = null;
  private realtimeRetry: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private typingThrottles = new Map<string, ReturnType<typeof createThrottle>>();
  private loadingOlder = new Set<string>();
  private fetchingRooms = new Set<string>();
  private searchSeq = 0;
  private onlineTimer: ReturnType<typeof setInterval> | null = null;
  private resyncing: Promise<void> | null = null;
  private resyncAgain = false;
  private onlineRefresh: ReturnType<typeof setTimeout> | null = null;
  private unwatchStore: () => void;
  /** What the realtime connection was last told to watch (undefined: nothing told yet). */
  private watching: string | null | undefined = undefined;

  constructor(session: Session, opts: ControllerOptions = {}) {
    this.session = session;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.store = createStore(chatReducer, initialState(session.user));
    // Whatever opens, closes, joins or leaves a room, the realtime room subscription follows.
    this.unwatchStore = this.store.subscribe(() => this.syncWatchedRoom());
  }

  /** The room whose presence the user takes part in: the open one, if a member. */
  private get watchedRoomId(): string | null {
    const id = this.state.activeRoomId;
    return id && this.state.rooms[id]?.isMember ? id : null;
  }

  private syncWatchedRoom(): void {
    if (this.stopped || !this.realtime?.watchRoom) return;
    const want = this.watchedRoomId;
    if (want === this.watching) return;
    this.watching = want;
    try {
      this.realtime.watchRoom(want);
    } catch (e) {
      console.warn('realtime: watching the open room failed', e);
    }
  }

  /** Someone came or went in a room's channel: refresh its online list soon (once per burst). */
  private roomPresenceChanged(roomId: string): void {
    if (this.stopped || roomId !== this.state.activeRoomId || this.onlineRefresh) return;
    this.onlineRefresh = setTimeout(() => {
      this.onlineRefresh = null;
      const id = this.state.activeRoomId;
      if (id && id === this.watchedRoomId) void this.loadOnline(id);
    }, this.opts.onlineRefreshDelayMs ?? 150);
  }

  get state(): ChatState {
    return this.store.getState();
  }

  private dispatch(a: ChatAction): void {
    if (!this.stopped) this.store.dispatch(a);
  }

  private notice(e: unknown): void {
    if (e instanceof GqlError && e.code === 'UNAUTHENTICATED') return; // the app returns to sign-in
    this.dispatch({ type: 'notice', text: describeError(e) });
  }

  /** Loads the room lists and starts the realtime stream. */
  async start(): Promise<void> {
    const rooms = this.refreshRooms().catch((e) => this.notice(e));
    await this.startRealtime();
    await rooms;
  }

  /** Starts realtime; if the server cannot be asked (down, overloaded), tries again with backoff. */
  private async startRealtime(attempt = 0): Promise<void> {
    if (!this.opts.startRealtime || this.stopped) return;
    try {
      const rt = await this.opts.startRealtime(this.session, {
        onEvent: (e) => this.handleEvent(e),
        onLive: (lost) => {
          if (lost) void this.resync();
        },
        onStatus: (status) => this.dispatch({ type: 'connection', status }),
        onRoomPresence: (roomId) => this.roomPresenceChanged(roomId),
      });
      if (this.stopped) rt.stop();
      else {
        this.realtime = rt;
        this.watching = undefined;
        this.syncWatchedRoom();
      }
    } catch (e) {
      this.dispatch({ type: 'connection', status: 'stopped' });
      if (e instanceof GqlError && e.code === 'UNAUTHENTICATED') return; // back to sign-in
      if (attempt === 0) this.notice(e);
      const delay = (this.opts.retryDelayMs ?? ((n) => Math.min(30_000, 1_000 * 2 ** n)))(attempt);
      this.realtimeRetry = setTimeout(() => {
        this.realtimeRetry = null;
        void this.startRealtime(attempt + 1);
      }, delay);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.realtimeRetry) clearTimeout(this.realtimeRetry);
    this.realtimeRetry = null;
    this.unwatchStore();
    this.realtime?.stop();
    this.realtime = null;
    if (this.onlineTimer) clearInterval(this.onlineTimer);
    this.onlineTimer = null;
    if (this.onlineRefresh) clearTimeout(this.onlineRefresh);
    this.onlineRefresh = null;
  }

  get realtimeMode(): string | null {
    return this.realtime?.mode ?? null;
  }

  /** Fetches the user's rooms and some rooms to discover. */
  async refreshRooms(): Promise<void> {
    const [mine, all] = await Promise.all([
      this.session.request<{ rooms: Connection<Room> }>(ROOMS, { first: 100, memberOnly: true }),
      this.session.request<{ rooms: Connection<Room> }>(ROOMS, { first: 20, memberOnly: false }),
    ]);
    this.dispatch({ type: 'roomsLoaded', rooms: mine.rooms.edges.map((e) => e.node) });
    this.dispatch({ type: 'discoverLoaded', rooms: all.rooms.edges.map((e) => e.node) });
  }

  /** Searches all rooms by name; an empty query clears the search. */
  async search(query: string): Promise<void> {
    const seq = ++this.searchSeq;
    const q = query.trim();
    if (!q) {
      this.dispatch({ type: 'searchCleared' });
      return;
    }
    try {
      const data = await this.session.request<{ rooms: Connection<Room> }>(ROOMS, { first: 50, search: q, memberOnly: false });
      if (seq !== this.searchSeq) return; // a newer search won
      this.dispatch({ type: 'searchLoaded', query: q, rooms: data.rooms.edges.map((e) => e.node) });
    } catch (e) {
      if (seq === this.searchSeq) this.notice(e);
    }
  }

  async createRoom(name: string): Promise<Room> {
    const data = await this.session.request<{ createRoom: Room }>(CREATE_ROOM, { name });
    this.dispatch({ type: 'roomUpserted', room: data.createRoom });
    return data.createRoom;
  }

  async joinRoom(roomId: string): Promise<void> {
    const data = await this.session.request<{ joinRoom: Room }>(JOIN_ROOM, { roomId });
    this.dispatch({ type: 'roomUpserted', room: data.joinRoom });
    if (this.state.activeRoomId === roomId) {
      await Promise.all([this.loadLatest(roomId), this.loadOnline(roomId)]);
    }
  }

  async leaveRoom(roomId: string): Promise<void> {
    const data = await this.session.request<{ leaveRoom: Room }>(LEAVE_ROOM, { roomId });
    this.dispatch({ type: 'roomUpserted', room: data.leaveRoom });
  }

  /** Makes a room the open one (null: none) and loads what it shows. */
  async openRoom(roomId: string | null): Promise<void> {
    this.dispatch({ type: 'roomOpened', roomId });
    if (this.onlineTimer) clearInterval(this.onlineTimer);
    this.onlineTimer = null;
    if (!roomId) return;
    if (!this.state.rooms[roomId]) {
      try {
        const room = await this.fetchRoom(roomId);
        if (!room) {
          this.dispatch({ type: 'notice', text: 'That room does not exist.' });
          return;
        }
      } catch (e) {
        this.notice(e);
        return;
      }
    }
    if (this.state.activeRoomId !== roomId) return;
    this.onlineTimer = setInterval(() => {
      const id = this.state.activeRoomId;
      if (id && this.state.rooms[id]?.isMember) void this.loadOnline(id);
    }, 30_000);
    if (this.state.rooms[roomId]?.isMember) {
      await Promise.all([this.loadLatest(roomId).catch((e) => this.notice(e)), this.loadOnline(roomId)]);
    }
  }

  private async fetchRoom(roomId: string): Promise<Room | null> {
    const data = await this.session.request<{ room: Room | null }>(ROOM, { id: roomId });
    if (data.room) this.dispatch({ type: 'roomUpserted', room: data.room });
    return data.room;
  }

  /** Loads (or reloads) the newest page of a room's history. */
  async loadLatest(roomId: string): Promise<void> {
    const data = await this.session.request<{ messages: Connection<Message> }>(MESSAGES, {
      roomId,
      last: HISTORY_PAGE,
    });
    this.dispatch({
      type: 'historyLoaded',
      roomId,
      kind: 'latest',
      messages: data.messages.edges.map((e) => e.node),
      olderCursor: data.messages.pageInfo.startCursor ?? data.messages.edges[0]?.cursor ?? null,
      hasOlder: data.messages.pageInfo.hasPreviousPage,
    });
  }

  /** Loads the page before the oldest shown message. Resolves false when there is none. */
  async loadOlder(roomId: string): Promise<boolean> {
    const rm = this.state.messages[roomId];
    if (!rm?.loaded || !rm.hasOlder || !rm.olderCursor || this.loadingOlder.has(roomId)) return false;
    this.loadingOlder.add(roomId);
    try {
      const data = await this.session.request<{ messages: Connection<Message> }>(MESSAGES, {
        roomId,
        last: HISTORY_PAGE,
        before: rm.olderCursor,
      });
      this.dispatch({
        type: 'historyLoaded',
        roomId,
        kind: 'older',
        messages: data.messages.edges.map((e) => e.node),
        olderCursor: data.messages.pageInfo.startCursor ?? data.messages.edges[0]?.cursor ?? null,
        hasOlder: data.messages.pageInfo.hasPreviousPage && data.messages.edges.length > 0,
      });
      return true;
    } catch (e) {
      this.notice(e);
      return false;
    } finally {
      this.loadingOlder.delete(roomId);
    }
  }

  /** Who is online in a room; a server without `Room.online` just hides the list. */
  async loadOnline(roomId: string): Promise<void> {
    if (!this.state.onlineSupported) return;
    try {
      const data = await this.session.request<{ room: { id: string; online: User[] | null } | null }>(ROOM_ONLINE, {
        id: roomId,
      });
      if (data.room && Array.isArray(data.room.online)) {
        this.dispatch({ type: 'onlineLoaded', roomId, users: data.room.online });
      }
    } catch (e) {
      if (e instanceof GqlError && (e.code === 'UNAUTHENTICATED' || isTransient(e))) return;
      // Validation failure (no such field), or any other refusal: stop asking.
      this.dispatch({ type: 'onlineUnsupported' });
    }
  }

  /** Sends a message optimistically; resolves with its client id. */
  async send(roomId: string, content: string): Promise<string> {
    const clientId = (this.opts.newClientId ?? newClientId)();
    this.dispatch({ type: 'sendStarted', roomId, clientId, content, now: this.now() });
    this.typingThrottles.get(roomId)?.reset();
    await this.deliver(roomId, clientId, content);
    return clientId;
  }

  /** Resends a failed message with the same client id (the server keeps one copy). */
  async retry(roomId: string, clientId: string): Promise<void> {
    const m = this.state.messages[roomId]?.items.find((x) => x.clientId === clientId && x.status === 'failed');
    if (!m) return;
    this.dispatch({ type: 'sendRetried', roomId, clientId });
    await this.deliver(roomId, clientId, m.content);
  }

  private async deliver(roomId: string, clientId: string, content: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const data = await this.session.request<{ sendMessage: Message }>(SEND_MESSAGE, { roomId, content, clientId });
        this.dispatch({ type: 'sendSucceeded', roomId, clientId, message: data.sendMessage });
        return;
      } catch (e) {
        if (attempt < SEND_ATTEMPTS && isTransient(e) && !this.stopped) {
          await new Promise((r) => setTimeout(r, (this.opts.retryDelayMs ?? ((n) => 500 * 2 ** n))(attempt)));
          continue;
        }
        this.dispatch({ type: 'sendFailed', roomId, clientId, error: describeError(e) });
        return;
      }
    }
  }

  /** Tells the room the user is typing, at most once per `TYPING_INTERVAL_MS`. */
  typing(roomId: string): void {
    let t = this.typingThrottles.get(roomId);
    if (!t) {
      t = createThrottle(TYPING_INTERVAL_MS, this.now);
      this.typingThrottles.set(roomId, t);
    }
    if (!t.take()) return;
    this.session.request(SEND_TYPING, { roomId }).catch(() => undefined);
  }

  /** Applies one realtime event, fetching what the event refers to but the state lacks. */
  handleEvent(event: RoomEvent): void {
    this.dispatch({ type: 'event', event, now: this.now() });
    const roomId = event.roomId;
    const me = this.state.me;
    const aboutMe = !!me && 'user' in event && event.user.id === me.id;
    if (!this.state.rooms[roomId] && (event.__typename === 'MessageAdded' || aboutMe)) {
      void this.fetchRoomOnce(roomId);
    }
    if ((event.__typename === 'MemberJoined' || event.__typename === 'MemberLeft') && roomId === this.state.activeRoomId) {
      if (aboutMe && event.__typename === 'MemberJoined') void this.loadLatest(roomId).catch(() => undefined);
      void this.loadOnline(roomId);
    }
  }

  private async fetchRoomOnce(roomId: string): Promise<void> {
    if (this.fetchingRooms.has(roomId)) return;
    this.fetchingRooms.add(roomId);
    try {
      await this.fetchRoom(roomId);
    } catch {
      /* the next room list refresh will bring it */
    } finally {
      this.fetchingRooms.delete(roomId);
    }
  }

  /**
   * Refetches what realtime may have missed: room list (previews, counts) and the open room's
   * newest messages (merged by id, so nothing shows twice). Overlapping calls coalesce.
   */
  resync(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      do {
        this.resyncAgain = false;
        const active = this.state.activeRoomId;
        const jobs: Promise<unknown>[] = [this.refreshRooms()];
        if (active && this.state.rooms[active]?.isMember) jobs.push(this.loadLatest(active));
        await Promise.all(jobs).catch(() => undefined);
      } while (this.resyncAgain && !this.stopped);
    })().finally(() => {
      this.resyncing = null;
    });
    return this.resyncing;
  }
}
