import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeFetch, gqlError, type FakeCall } from '../test/fakeFetch';
import { GqlError } from './graphql';
import { memoryStore, Session, webStorageStore, type StoredSession } from './session';

const user = { id: '1', username: 'alice' };

function payload(n: number, expiresIn = 900) {
  return { accessToken: `a${n}`, refreshToken: `r${n}`, expiresIn, user };
}

function stored(n: number, expiresAt: number): StoredSession {
  return { accessToken: `a${n}`, refreshToken: `r${n}`, expiresAt, user };
}

/** A fake server: access token `aN` is valid while `valid` includes N; refresh rN gives N+1. */
function server(opts: { valid?: Set<number>; refreshFails?: 'refuse' | 'network' } = {}) {
  const valid = opts.valid ?? new Set<number>();
  let next = 100;
  return fakeFetch(async (call: FakeCall) => {
    if (call.op === 'RefreshToken') {
      if (opts.refreshFails === 'refuse') return gqlError('UNAUTHENTICATED');
      if (opts.refreshFails === 'network') return new Response('', { status: 503 });
      const n = next++;
      valid.add(n);
      return { data: { refreshToken: payload(n) } };
    }
    const n = Number(call.token?.slice(1));
    if (!call.token || !valid.has(n)) return gqlError('UNAUTHENTICATED');
    return { data: { me: { ...user, token: call.token } } };
  });
}

let now = 1_000_000;
beforeEach(() => {
  now = 1_000_000;
});
afterEach(() => {
  vi.useRealTimers();
});

function session(fetch: ReturnType<typeof server>, initial: StoredSession | null) {
  return new Session({ url: '/graphql', fetch, store: memoryStore(initial), now: () => now, refreshMarginMs: 30_000 });
}

describe('Session', () => {
  it('signIn stores tokens with an absolute expiry and notifies', () => {
    const s = session(server(), null);
    const seen: (StoredSession | null)[] = [];
    s.subscribe((v) => seen.push(v));
    s.signIn(payload(1, 60));
    expect(s.value).toEqual({ ...stored(1, now + 60_000), lifetimeMs: 60_000 });
    s.signOut();
    expect(s.value).toBeNull();
    expect(seen.map((v) => v?.accessToken ?? null)).toEqual(['a1', null]);
  });

  it('uses a fresh access token as is', async () => {
    const f = server({ valid: new Set([1]) });
    const s = session(f, stored(1, now + 600_000));
    expect(await s.request('query Me { me { id } }')).toMatchObject({ me: { token: 'a1' } });
    expect(f.calls.map((c) => c.op)).toEqual(['Me']);
  });

  it('refreshes before the access token expires', async () => {
    const f = server();
    const s = session(f, stored(1, now + 10_000));
    expect(await s.request('query Me { me { id } }')).toMatchObject({ me: { token: 'a100' } });
    expect(f.calls.map((c) => c.op)).toEqual(['RefreshToken', 'Me']);
    expect(f.calls[0]).toMatchObject({ variables: { refreshToken: 'r1' }, token: null });
    expect(s.value?.refreshToken).toBe('r100');
  });

  it('on UNAUTHENTICATED refreshes once and retries', async () => {
    const f = server();
    const s = session(f, stored(1, now + 600_000));
    expect(await s.request('query Me { me { id } }')).toMatchObject({ me: { token: 'a100' } });
    expect(f.calls.map((c) => c.op)).toEqual(['Me', 'RefreshToken', 'Me']);
  });

  it('signs out when the retried request is refused too', async () => {
    const f = fakeFetch((c) => (c.op === 'RefreshToken' ? { data: { refreshToken: payload(2) } } : gqlError('UNAUTHENTICATED')));
    const s = session(f, stored(1, now + 600_000));
    const err = await s.request<never>('query Me { me { id } }').catch((e: GqlError) => e);
    expect(err).toBeInstanceOf(GqlError);
    expect(err.code).toBe('UNAUTHENTICATED');
    expect(s.value).toBeNull();
    expect(f.calls.map((c) => c.op)).toEqual(['Me', 'RefreshToken', 'Me']);
  });

  it('signs out when the refresh token is refused', async () => {
    const s = session(server({ refreshFails: 'refuse' }), stored(1, now + 600_000));
    const err = await s.request<never>('query Me { me { id } }').catch((e: GqlError) => e);
    expect(err.code).toBe('UNAUTHENTICATED');
    expect(s.value).toBeNull();
  });

  it('keeps the session when the refresh fails for a transient reason', async () => {
    const s = session(server({ refreshFails: 'network' }), stored(1, now + 1_000));
    await expect(s.request('query Me { me { id } }')).rejects.toBeInstanceOf(GqlError);
    expect(s.value?.refreshToken).toBe('r1');
  });

  it('shares one refresh between concurrent requests', async () => {
    const f = server();
    const s = session(f, stored(1, now + 1_000));
    const results = await Promise.all([1, 2, 3].map(() => s.request<{ me: { token: string } }>('query Me { me { id } }')));
    expect(results.map((r) => r.me.token)).toEqual(['a100', 'a100', 'a100']);
    expect(f.calls.filter((c) => c.op === 'RefreshToken')).toHaveLength(1);
  });

  it('forceRefresh replaces a token the server refused (WebSocket 4401)', async () => {
    const f = server();
    const s = session(f, stored(1, now + 600_000));
    expect(await s.accessToken()).toBe('a1');
    expect(await s.accessToken({ forceRefresh: true })).toBe('a100');
    expect(await s.accessToken()).toBe('a100');
  });

  it('adopts tokens another tab rotated instead of refreshing with a stale refresh token', async () => {
    const f = server({ valid: new Set([5]) });
    const store = memoryStore(stored(1, now + 600_000));
    const s = new Session({ url: '/graphql', fetch: f, store, now: () => now });
    store.save(stored(5, now + 600_000));
    const r = await s.request<{ me: { token: string } }>('query Me { me { id } }');
    expect(r.me.token).toBe('a5');
    expect(f.calls.map((c) => c.op)).toEqual(['Me', 'Me']);
  });

  it('request without a session fails with UNAUTHENTICATED and sends nothing', async () => {
    const f = server();
    const s = session(f, null);
    await expect(s.request('query Me { me { id } }')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(f.calls).toEqual([]);
  });

  it('a short-lived token is refreshed a third of its life before expiry, not on every request', async () => {
    const f = server();
    const s = session(f, null);
    s.signIn(payload(1, 6));
    expect(s.isExpiring()).toBe(false);
    now += 3_000;
    expect(s.isExpiring()).toBe(false);
    now += 1_100;
    expect(s.isExpiring()).toBe(true);
  });

  it('the timer refreshes shortly before expiry', async () => {
    vi.useFakeTimers();
    vi.setSystemTime(now);
    const f = server();
    const s = new Session({ url: '/graphql', fetch: f, store: memoryStore(stored(1, Date.now() + 120_000)), refreshMarginMs: 30_000 });
    s.start();
    await vi.advanceTimersByTimeAsync(80_000);
    expect(f.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(f.calls.map((c) => c.op)).toEqual(['RefreshToken']);
    expect(s.value?.accessToken).toBe('a100');
    s.stop();
  });

  it('reload() picks up a sign-out from another tab', () => {
    const store = memoryStore(stored(1, now + 600_000));
    const s = new Session({ url: '/graphql', fetch: server(), store, now: () => now });
    const seen: unknown[] = [];
    s.subscribe((v) => seen.push(v));
    store.save(null);
    s.reload();
    expect(s.value).toBeNull();
    expect(seen).toEqual([null]);
  });
});

describe('webStorageStore', () => {
  function fakeStorage(): Storage {
    const m = new Map<string, string>();
    return {
      get length() {
        return m.size;
      },
      clear: () => m.clear(),
      getItem: (k) => m.get(k) ?? null,
      key: (i) => [...m.keys()][i] ?? null,
      removeItem: (k) => void m.delete(k),
      setItem: (k, v) => void m.set(k, v),
    };
  }

  it('round-trips a session and ignores junk', () => {
    const st = fakeStorage();
    const store = webStorageStore(st);
    expect(store.load()).toBeNull();
    store.save(stored(1, 5));
    expect(store.load()).toEqual(stored(1, 5));
    st.setItem('chatgql.session', '{not json');
    expect(store.load()).toBeNull();
    st.setItem('chatgql.session', '{"accessToken": 1}');
    expect(store.load()).toBeNull();
    store.save(null);
    expect(st.getItem('chatgql.session')).toBeNull();
  });
});

describe('Session across tabs', () => {
  it('a refused refresh adopts the tokens another tab just stored instead of signing out', async () => {
    const store = memoryStore(stored(1, now + 1_000));
    const f = fakeFetch((c) => {
      if (c.op === 'RefreshToken') {
        // The other tab used r1 a moment earlier and stored its result.
        store.save(stored(7, now + 600_000));
        return gqlError('UNAUTHENTICATED');
      }
      return { data: { me: { token: c.token } } };
    });
    const s = new Session({ url: '/graphql', fetch: f, store, now: () => now });
    const r = await s.request<{ me: { token: string } }>('query Me { me { id } }');
    expect(r.me.token).toBe('a7');
    expect(s.value?.refreshToken).toBe('r7');
  });
});
