import { useEffect, useState, useSyncExternalStore } from 'react';
import type { Store } from '../state/store';

/** Subscribes a component to a slice of a store. The selector must return stable references. */
export function useStore<S, A, T>(store: Store<S, A>, select: (s: S) => T): T {
  return useSyncExternalStore(store.subscribe, () => select(store.getState()));
}

/** The current time, ticking every `ms` while `active`. */
export function useNow(active: boolean, ms = 500): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [active, ms]);
  return now;
}

/** The app's route: `/` (room list) or `/rooms/<id>`. */
export function roomIdFromPath(pathname: string): string | null {
  const m = /^\/rooms\/([^/]+)\/?$/.exec(pathname);
  return m ? decodeURIComponent(m[1]) : null;
}

export function pathForRoom(roomId: string | null): string {
  return roomId ? `/rooms/${encodeURIComponent(roomId)}` : '/';
}

/** The room id in the address bar, following back/forward. */
export function useRoute(): [string | null, (roomId: string | null) => void] {
  const [roomId, setRoomId] = useState(() => roomIdFromPath(window.location.pathname));
  useEffect(() => {
    const onPop = () => setRoomId(roomIdFromPath(window.location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = (id: string | null) => {
    const path = pathForRoom(id);
    if (window.location.pathname !== path) window.history.pushState(null, '', path);
    setRoomId(id);
  };
  return [roomId, navigate];
}
