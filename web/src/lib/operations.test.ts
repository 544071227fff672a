import { readFileSync } from 'node:fs';
import { buildSchema, parse, validate, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import * as ops from './operations';

const documents = Object.entries(ops).filter(
  ([name, v]) => typeof v === 'string' && !name.endsWith('_FIELDS'),
) as [string, string][];

function check(schema: GraphQLSchema) {
  const problems = documents
    .map(([name, text]) => ({ name, errors: validate(schema, parse(text)).map((e) => e.message) }))
    .filter((p) => p.errors.length > 0);
  expect(problems).toEqual([]);
}

describe('GraphQL operations', () => {
  it('has every operation the client sends', () => {
    expect(documents.map(([n]) => n).sort()).toEqual(
      [
        'CREATE_ROOM', 'JOIN_ROOM', 'LEAVE_ROOM', 'LOGIN', 'ME', 'MESSAGES', 'MY_EVENTS', 'REALTIME',
        'REALTIME_TOKEN', 'REFRESH_TOKEN', 'REGISTER', 'ROOM', 'ROOMS', 'ROOM_CHANNEL_TOKEN', 'ROOM_ONLINE', 'SEND_MESSAGE', 'SEND_TYPING',
      ].sort(),
    );
  });

  it('validates against the contract schema of docs/api.md', () => {
    check(buildSchema(readFileSync(new URL('../test/contract.graphql', import.meta.url), 'utf8')));
  });

  // The server's own schema, kept equal to `chatgql schema` by the schema check.
  it('validates against the server schema (schema.graphql)', () => {
    check(buildSchema(readFileSync(new URL('../../../schema.graphql', import.meta.url), 'utf8')));
  });
});
