import type { FetchLike } from '../lib/graphql';

export interface FakeCall {
  op: string;
  variables: Record<string, unknown>;
  token: string | null;
}

export type FakeHandler = (call: FakeCall) => unknown | Promise<unknown>;

/** A `fetch` that answers GraphQL requests by operation name; records every call. */
export function fakeFetch(handler: FakeHandler): FetchLike & { calls: FakeCall[] } {
  const calls: FakeCall[] = [];
  const f = (async (_url: string, init: RequestInit) => {
    const body = JSON.parse(String(init.body));
    const op = /(?:query|mutation|subscription)\s+(\w+)/.exec(body.query)?.[1] ?? '?';
    const auth = (init.headers as Record<string, string>).authorization ?? null;
    const call = { op, variables: body.variables ?? {}, token: auth ? auth.replace(/^Bearer /, '') : null };
    calls.push(call);
    const result = await handler(call);
    if (result instanceof Response) return result;
    return new Response(JSON.stringify(result), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as FetchLike & { calls: FakeCall[] };
  f.calls = calls;
  return f;
}

export function gqlError(code: string, message = code, extra: Record<string, unknown> = {}) {
  return { data: null, errors: [{ message, extensions: { code, ...extra } }] };
}
