/**
 * Ordering of opaque IDs. Message IDs grow with commit order; decimal IDs compare as numbers
 * (so "10" sorts after "9"), anything else as plain strings.
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) {
    const at = a.replace(/^0+(?=\d)/, '');
    const bt = b.replace(/^0+(?=\d)/, '');
    if (at.length !== bt.length) return at.length < bt.length ? -1 : 1;
    return at < bt ? -1 : at > bt ? 1 : 0;
  }
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : 1;
}

/** Milliseconds of an ISO date-time, 0 when it does not parse. */
export function timeOf(iso: string | null | undefined): number {
  if (!iso) return 0;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : 0;
}
