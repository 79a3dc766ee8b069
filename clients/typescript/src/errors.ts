/** Codes that say "not now" rather than "not this": sending the same request again may succeed. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['RATE_LIMITED', 'UNAVAILABLE']);

/** One entry of a GraphQL response's `errors` list, as the gateway sends it. */
export interface GraphQLErrorEntry {
  message?: string;
  path?: ReadonlyArray<string | number>;
  extensions?: Record<string, unknown>;
}

export interface MemoryGatewayErrorOptions {
  field?: string | null;
  retryable?: boolean;
  retryAfterMs?: number | null;
  path?: ReadonlyArray<string | number> | null;
  extensions?: Record<string, unknown>;
  httpStatus?: number | null;
  cause?: unknown;
}

/**
 * An error the gateway answered, or one reaching it.
 *
 * - `code`: the gateway's `extensions.code` (BAD_USER_INPUT, NOT_FOUND, CONFLICT, FORBIDDEN,
 *   UNAUTHENTICATED, RATE_LIMITED, UNAVAILABLE, …); UNAVAILABLE also when the gateway cannot be
 *   reached, TIMEOUT when a wait runs out.
 * - `field`: the input field at fault (`input.content`, `input.turns[3].role`), when there is one.
 * - `retryable`: sending the same request again may succeed.
 * - `retryAfterMs`: how long the gateway asks to wait first (rate limits).
 * - `extensions`: every extension the gateway gave (`reason`, `limit`, …).
 */
export class MemoryGatewayError extends Error {
  readonly code: string;
  readonly field: string | null;
  readonly retryable: boolean;
  readonly retryAfterMs: number | null;
  readonly path: ReadonlyArray<string | number> | null;
  readonly extensions: Record<string, unknown>;
  readonly httpStatus: number | null;

  constructor(code: string, message: string, options: MemoryGatewayErrorOptions = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MemoryGatewayError';
    this.code = code;
    this.field = options.field ?? null;
    this.retryable = options.retryable ?? RETRYABLE_CODES.has(code);
    this.retryAfterMs = options.retryAfterMs ?? null;
    this.path = options.path ?? null;
    this.extensions = options.extensions ?? {};
    this.httpStatus = options.httpStatus ?? null;
  }

  /** The error of one entry of a GraphQL response's `errors` list. */
  static fromGraphQL(entry: GraphQLErrorEntry, httpStatus: number | null = null): MemoryGatewayError {
    const ext = entry.extensions ?? {};
    const code = typeof ext.code === 'string' && ext.code !== '' ? ext.code : 'INTERNAL';
    return new MemoryGatewayError(code, entry.message ?? '', {
      field: typeof ext.field === 'string' ? ext.field : null,
      retryable: typeof ext.retryable === 'boolean' ? ext.retryable : undefined,
      retryAfterMs: typeof ext.retryAfterMs === 'number' ? ext.retryAfterMs : null,
      path: entry.path ?? null,
      extensions: ext,
      httpStatus,
    });
  }
}
