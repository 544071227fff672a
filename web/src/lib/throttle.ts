/**
 * Lets a call through at most once per `intervalMs` (leading edge only): used for `sendTyping`
 * so a user typing steadily sends one mutation every couple of seconds.
 */
export function createThrottle(intervalMs: number, now: () => number = Date.now) {
  let last = -Infinity;
  return {
    /** True when the caller may act now (and records that it did). */
    take(): boolean {
      const t = now();
      if (t - last < intervalMs) return false;
      last = t;
      return true;
    },
    /** Forgets the last call, e.g. after a message was sent. */
    reset(): void {
      last = -Infinity;
    },
  };
}

/** A new client id for `sendMessage`: a retry of the same send reuses it. */
export function newClientId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  // Insecure contexts (plain http on a LAN address) have no randomUUID.
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const h = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
