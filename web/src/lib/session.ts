/**
 * The signed-in session: access + refresh tokens, silent refresh before expiry, one retry after
 * `UNAUTHENTICATED`, sign-out when the refresh token is refused.
 */
import { GqlError, gqlFetch, type FetchLike } from './graphql';
import { REFRESH_TOKEN } from './operations';
import type { AuthPayload, User } from './types';

export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  /** Unix milliseconds after which the access token is expired. */
  expiresAt: number;
  /** The access token's whole lifetime in ms (`expiresIn`), to size the refresh margin. */
  lifetimeMs?: number;
  user: User;
}

/** Where the session lives between page loads. */
export interface SessionStore {
  load(): StoredSession | null;
  save(session: StoredSession | null): void;
}

export const STORAGE_KEY = 'chatgql.session';

/** A `SessionStore` over `localStorage` (or any Web Storage). */
export function webStorageStore(storage: Storage, key = STORAGE_KEY): SessionStore {
  return {
    load() {
      try {
        const raw = storage.getItem(key);
        if (!raw) return null;
        const s = JSON.parse(raw) as StoredSession;
        if (!s || typeof s.accessToken !== 'string' || typeof s.refreshToken !== 'string' || !s.user) return null;
        return s;
      } catch {
        return null;
      }
    },
    save(session) {
      try {
        if (session) storage.setItem(key, JSON.stringify(session));
        else storage.removeItem(key);
      } catch {
        /* storage full or disabled: the session still lives in memory */
      }
    },
  };
}

/** A `SessionStore` in memory, for tests. */
export function memoryStore(initial: StoredSession | null = null): SessionStore {
  let value = initial;
  return {
    load: () => value,
    save: (s) => {
      value = s;
    },
  };
}

export interface SessionOptions {
  url: string;
  fetch: FetchLike;
  store: SessionStore;
  now?: () => number;
  /** Refresh this long before the access token expires. */
  refreshMarginMs?: number;
}

type Listener = (session: StoredSession | null) => void;

/** Error thrown when an operation needs a session and there is none (or it just ended). */
export function signedOut(): GqlError {
  return new GqlError([{ message: 'Please sign in', extensions: { code: 'UNAUTHENTICATED' } }]);
}

/** The signed-in user's tokens and the authenticated request path. */
export class Session {
  private readonly url: string;
  private readonly fetchImpl: FetchLike;
  private readonly store: SessionStore;
  private readonly now: () => number;
  private readonly margin: number;
  private current: StoredSession | null;
  private inflight: Promise<StoredSession> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<Listener>();
  private started = false;

  constructor(opts: SessionOptions) {
    this.url = opts.url;
    this.fetchImpl = opts.fetch;
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.margin = opts.refreshMarginMs ?? 30_000;
    this.current = this.store.load();
  }

  /** The current session, or null when signed out. */
  get value(): StoredSession | null {
    return this.current;
  }

  get user(): User | null {
    return this.current?.user ?? null;
  }

  /** Calls `listener` on every sign-in, refresh and sign-out. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the proactive refresh timer. */
  start(): void {
    this.started = true;
    this.schedule();
  }

  /** Stops timers (the session itself stays stored). */
  stop(): void {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Adopts what another tab wrote to the store, if it differs from ours. */
  reload(): void {
    const stored = this.store.load();
    if (stored?.accessToken === this.current?.accessToken && stored?.refreshToken === this.current?.refreshToken) return;
    this.current = stored;
    this.schedule();
    this.emit();
  }

  /** Stores the tokens of `register`, `login` or `refreshToken`. */
  signIn(payload: AuthPayload): StoredSession {
    const session: StoredSession = {
      accessToken: payload.accessToken,
      refreshToken: payload.refreshToken,
      expiresAt: this.now() + Math.max(0, payload.expiresIn) * 1000,
      lifetimeMs: Math.max(0, payload.expiresIn) * 1000,
      user: { id: String(payload.user.id), username: payload.user.username },
    };
    this.set(session);
    return session;
  }

  signOut(): void {
    this.inflight = null;
    this.set(null);
  }

  /** True when the access token is expired or about to be. */
  isExpiring(session: StoredSession | null = this.current): boolean {
    if (!session) return true;
    return session.expiresAt - this.now() <= this.marginFor(session);
  }

  /** Refresh margin: the configured one, but at most a third of a short-lived token's life. */
  private marginFor(session: StoredSession): number {
    return Math.min(this.margin, (session.lifetimeMs ?? Infinity) / 3);
  }

  /** A usable access token, refreshed first if it is expiring (or `forceRefresh`). */
  async accessToken(opts: { forceRefresh?: boolean } = {}): Promise<string> {
    if (!this.current) throw signedOut();
    if (opts.forceRefresh || this.isExpiring()) {
      const s = await this.refresh(opts.forceRefresh ? this.current.accessToken : undefined);
      return s.accessToken;
    }
    return this.current.accessToken;
  }

  /**
   * Exchanges the refresh token for new tokens; concurrent callers share one request. With
   * `staleAccessToken`, a token other than that one already counts as fresh (another caller, or
   * another tab, refreshed meanwhile). A refused refresh token signs out.
   */
  refresh(staleAccessToken?: string): Promise<StoredSession> {
    if (this.inflight) return this.inflight;
    const stored = this.store.load();
    if (stored && this.current && stored.refreshToken !== this.current.refreshToken) {
      // Another tab rotated the tokens: adopt them.
      this.current = stored;
      this.emit();
    }
    const cur = this.current;
    if (!cur) return Promise.reject(signedOut());
    if (staleAccessToken !== undefined && cur.accessToken !== staleAccessToken && !this.isExpiring(cur)) {
      return Promise.resolve(cur);
    }
    const p = (async () => {
      try {
        const data = await gqlFetch<{ refreshToken: AuthPayload }>(this.fetchImpl, this.url, {
          query: REFRESH_TOKEN,
          variables: { refreshToken: cur.refreshToken },
        });
        if (this.current?.refreshToken !== cur.refreshToken) {
          // Signed out (or in as someone else) while the request was in flight.
          if (!this.current) throw signedOut();
          return this.current;
        }
        return this.signIn(data.refreshToken);
      } catch (e) {
        if (e instanceof GqlError && isRefusal(e) && this.current?.refreshToken === cur.refreshToken) {
          // Refresh tokens are single-use: another tab may have used it first and stored the result.
          const stored = this.store.load();
          if (stored && stored.refreshToken !== cur.refreshToken) {
            this.current = stored;
            this.schedule();
            this.emit();
            return stored;
          }
          this.signOut();
          throw signedOut();
        }
        throw e;
      } finally {
        this.inflight = null;
      }
    })();
    this.inflight = p;
    return p;
  }

  /**
   * Runs an operation with the access token. On `UNAUTHENTICATED` it refreshes once and retries;
   * a second refusal signs out.
   */
  async request<T>(query: string, variables?: Record<string, unknown>, opts: { signal?: AbortSignal } = {}): Promise<T> {
    const token = await this.accessToken();
    try {
      return await gqlFetch<T>(this.fetchImpl, this.url, { query, variables, token, signal: opts.signal });
    } catch (e) {
      if (!(e instanceof GqlError) || !e.has('UNAUTHENTICATED')) throw e;
    }
    const fresh = await this.refresh(token);
    try {
      return await gqlFetch<T>(this.fetchImpl, this.url, {
        query,
        variables,
        token: fresh.accessToken,
        signal: opts.signal,
      });
    } catch (e) {
      if (e instanceof GqlError && e.has('UNAUTHENTICATED')) {
        this.signOut();
        throw signedOut();
      }
      throw e;
    }
  }

  /** Runs an operation without a token (register, login). */
  anonymous<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    return gqlFetch<T>(this.fetchImpl, this.url, { query, variables });
  }

  private set(session: StoredSession | null): void {
    this.current = session;
    this.store.save(session);
    this.schedule();
    this.emit();
  }

  private emit(): void {
    for (const l of [...this.listeners]) l(this.current);
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.started || !this.current) return;
    const delay = Math.max(1_000, this.current.expiresAt - this.marginFor(this.current) - this.now());
    // Browsers clamp long timeouts to 32 bits; re-check at least daily.
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.current) return;
      if (!this.isExpiring()) return this.schedule();
      this.refresh().then(
        () => undefined,
        () => {
          // Transient failure: try again shortly (a refusal has already signed out).
          if (this.current && !this.timer) this.timer = setTimeout(() => this.schedule(), 5_000);
        },
      );
    }, Math.min(delay, 86_400_000));
  }
}

/** A refresh answer that means the refresh token is no good (as opposed to a network hiccup). */
function isRefusal(e: GqlError): boolean {
  return ['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND'].some((c) => e.has(c));
}
