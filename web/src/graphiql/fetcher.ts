/**
 * GraphiQL's fetcher: HTTP for queries and mutations, graphql-ws for subscriptions. The headers
 * pane's `Authorization` goes out as an HTTP header and, lower-cased, in the WebSocket
 * `connection_init` payload (`{"authorization": "Bearer …"}`), which is where the server reads it.
 */
import { createGraphiQLFetcher, type Fetcher, type FetcherOpts, type FetcherParams } from '@graphiql/toolkit';
import { Kind, parse, type DocumentNode, type OperationDefinitionNode } from 'graphql';

/** Header names lower-cased (HTTP does not care; the `connection_init` payload does). */
export function lowerCaseHeaders(headers: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!headers) return headers;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

export function subscriptionUrlFor(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/graphql`;
}

/**
 * GraphiQL passes the document and operation name it parsed last, which can lag behind the
 * editor when Run follows an edit at once: then a subscription would go out over HTTP, or a
 * stale operation name would be sent. Parse the text actually sent instead.
 */
export function freshRequest(
  params: FetcherParams,
  opts: FetcherOpts | undefined,
): { params: FetcherParams; opts: FetcherOpts } {
  let documentAST: DocumentNode | undefined = opts?.documentAST;
  let operationName = params.operationName;
  try {
    documentAST = parse(params.query);
    const ops = documentAST.definitions.filter(
      (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
    );
    if (!ops.some((o) => (o.name?.value ?? null) === (operationName ?? null))) {
      operationName = ops.length === 1 ? (ops[0].name?.value ?? null) : operationName;
    }
  } catch {
    // Not parseable: let the server report the syntax error.
  }
  return {
    params: { ...params, operationName },
    opts: { ...opts, documentAST, headers: lowerCaseHeaders(opts?.headers) },
  };
}

export function createFetcher(loc: { protocol: string; host: string } = window.location): Fetcher {
  const inner = createGraphiQLFetcher({ url: '/graphql', subscriptionUrl: subscriptionUrlFor(loc) });
  return (params, opts) => {
    const fresh = freshRequest(params, opts);
    return inner(fresh.params, fresh.opts);
  };
}
