import { describe, expect, it } from 'vitest';
import { fakeFetch, gqlError } from '../test/fakeFetch';
import { GqlError, gqlFetch, isTransient } from './graphql';

describe('gqlFetch', () => {
  it('posts the query with the bearer token and resolves with data', async () => {
    const f = fakeFetch(() => ({ data: { me: { id: '1' } } }));
    const data = await gqlFetch<never>(f, '/graphql', { query: 'query Me { me { id } }', token: 'tok' });
    expect(data).toEqual({ me: { id: '1' } });
    expect(f.calls).toEqual([{ op: 'Me', variables: {}, token: 'tok' }]);
  });

  it('turns GraphQL errors into a GqlError with code and field', async () => {
    const f = fakeFetch(() => gqlError('BAD_USER_INPUT', 'too short', { field: 'username' }));
    const err = await gqlFetch<never>(f, '/graphql', { query: 'mutation Register { x }' }).catch((e: GqlError) => e);
    expect(err).toBeInstanceOf(GqlError);
    expect(err).toMatchObject({ code: 'BAD_USER_INPUT', field: 'username', message: 'too short' });
    expect(isTransient(err)).toBe(false);
  });

  it('maps HTTP 401 and 429 without a GraphQL body', async () => {
    const e401 = await gqlFetch<never>(fakeFetch(() => new Response('nope', { status: 401 })), '/g', { query: 'query A { a }' }).catch((e: GqlError) => e);
    expect(e401.code).toBe('UNAUTHENTICATED');
    const e429 = await gqlFetch<never>(fakeFetch(() => new Response('', { status: 429 })), '/g', { query: 'query A { a }' }).catch((e: GqlError) => e);
    expect(e429.code).toBe('TOO_MANY_REQUESTS');
    expect(isTransient(e429)).toBe(true);
  });

  it('reports an unreachable server as NETWORK_ERROR (transient)', async () => {
    const err = await gqlFetch<never>(
      async () => {
        throw new TypeError('Failed to fetch');
      },
      '/g',
      { query: 'query A { a }' },
    ).catch((e: GqlError) => e);
    expect(err.code).toBe('NETWORK_ERROR');
    expect(isTransient(err)).toBe(true);
  });

  it('has() finds a code in any error of the response', () => {
    const e = new GqlError([{ message: 'a', extensions: { code: 'NOT_FOUND' } }, { message: 'b', extensions: { code: 'UNAUTHENTICATED' } }]);
    expect(e.code).toBe('NOT_FOUND');
    expect(e.has('UNAUTHENTICATED')).toBe(true);
  });
});
