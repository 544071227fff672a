import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { freshRequest, lowerCaseHeaders, subscriptionUrlFor } from './fetcher';

describe('GraphiQL fetcher helpers', () => {
  it('lower-cases header names for the connection_init payload', () => {
    expect(lowerCaseHeaders({ Authorization: 'Bearer x', 'X-Other': 1 })).toEqual({ authorization: 'Bearer x', 'x-other': 1 });
    expect(lowerCaseHeaders(undefined)).toBeUndefined();
  });

  it('uses ws or wss on the page host', () => {
    expect(subscriptionUrlFor({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/graphql');
    expect(subscriptionUrlFor({ protocol: 'https:', host: 'chat.example' })).toBe('wss://chat.example/graphql');
  });

  it('replaces a stale document and operation name with what is actually sent', () => {
    const stale = parse('query Me { me { id } }');
    const sub = 'subscription { roomEvents(roomId: "1") { __typename } }';
    const r = freshRequest({ query: sub, operationName: 'Me' }, { documentAST: stale, headers: { Authorization: 'Bearer t' } });
    expect(r.params.operationName).toBeNull();
    expect(r.opts.documentAST?.definitions[0]).toMatchObject({ operation: 'subscription' });
    expect(r.opts.headers).toEqual({ authorization: 'Bearer t' });
  });

  it('keeps a valid operation name among several operations', () => {
    const q = 'query A { me { id } } query B { me { username } }';
    expect(freshRequest({ query: q, operationName: 'B' }, undefined).params.operationName).toBe('B');
  });

  it('passes unparseable text through', () => {
    const r = freshRequest({ query: '{ me {', operationName: 'X' }, { headers: {} });
    expect(r.params).toEqual({ query: '{ me {', operationName: 'X' });
  });
});
