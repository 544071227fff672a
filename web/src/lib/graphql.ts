/** A small GraphQL-over-HTTP client with typed errors (`extensions.code` of docs/api.md). */

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'TOO_MANY_REQUESTS'
  | 'INTERNAL_SERVER_ERROR'
  | 'NETWORK_ERROR'
  | 'GRAPHQL_VALIDATION_FAILED'
  | string;

export interface GraphQLErrorItem {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; field?: string; [k: string]: unknown };
}

/** A failed operation: the first error's code, message and (for `BAD_USER_INPUT`) field. */
export class GqlError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly errors: GraphQLErrorItem[];
  readonly status: number | undefined;

  constructor(errors: GraphQLErrorItem[], status?: number) {
    const first = errors[0];
    super(first?.message || 'Request failed');
    this.name = 'GqlError';
    this.errors = errors;
    this.status = status;
    this.code =
      first?.extensions?.code ??
      (status === 401 ? 'UNAUTHENTICATED' : status === 429 ? 'TOO_MANY_REQUESTS' : 'INTERNAL_SERVER_ERROR');
    this.field = typeof first?.extensions?.field === 'string' ? first.extensions.field : undefined;
  }

  /** True when any error of the response carries the code. */
  has(code: ErrorCode): boolean {
    return this.code === code || this.errors.some((e) => e.extensions?.code === code);
  }
}

/** True for errors that a retry of the same request may cure (network trouble, overload). */
export function isTransient(err: unknown): boolean {
  if (err instanceof GqlError) {
    return err.code === 'NETWORK_ERROR' || err.code === 'TOO_MANY_REQUESTS' || (err.status ?? 0) >= 500;
  }
  return true;
}

export interface GqlRequest {
  query: string;
  variables?: Record<string, unknown>;
  token?: string | null;
  signal?: AbortSignal;
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** Sends one operation to `url` and resolves with its `data`, or rejects with a `GqlError`. */
export async function gqlFetch<T>(fetchImpl: FetchLike, url: string, req: GqlRequest): Promise<T> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  };
  if (req.token) headers.authorization = `Bearer ${req.token}`;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: req.query, variables: req.variables ?? {} }),
      signal: req.signal,
    });
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e;
    throw new GqlError([{ message: 'The server cannot be reached', extensions: { code: 'NETWORK_ERROR' } }]);
  }
  let body: { data?: T | null; errors?: GraphQLErrorItem[] } | null = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (body?.errors?.length) throw new GqlError(body.errors, res.status);
  if (!res.ok || !body || body.data === undefined || body.data === null) {
    const code = res.status === 401 ? 'UNAUTHENTICATED' : res.status === 429 ? 'TOO_MANY_REQUESTS' : undefined;
    throw new GqlError(
      [{ message: `Unexpected response (HTTP ${res.status})`, extensions: code ? { code } : undefined }],
      res.status,
    );
  }
  return body.data;
}
