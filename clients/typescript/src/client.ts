import { createClient, type Client as WsClient } from 'graphql-ws/client';

import * as Documents from './generated/documents.js';
import type * as Types from './generated/types.js';
import { MemoryGatewayError, type GraphQLErrorEntry } from './errors.js';
import { VERSION } from './version.js';

/** A turn as ingested, with the refs of its writes to each backend. */
export type IngestedTurn = Types.TurnFieldsFragment;
/** One turn of a batch: the ingested turn, or its own error (one bad turn never fails the others). */
export interface IngestTurnResult {
  turn: IngestedTurn | null;
  error: MemoryGatewayError | null;
}
export type RetrievedContext = Types.RetrieveContextQuery['retrieveContext'];
export type Job = Types.JobFieldsFragment;
export type CommitSessionResult = Types.CommitSessionMutation['commitSession'];
export type Feedback = Types.FeedbackFieldsFragment;
export type RecordFeedbackResult = Types.RecordFeedbackMutation['recordMemoryFeedback'];
export type ErasureRequest = Types.ErasureFieldsFragment;
export type EraseSubjectResult = Types.EraseSubjectMutation['eraseSubject'];
export type MemoryRef = Types.RefFieldsFragment;
export type MemoryRefGraph = Types.MemoryRefQuery['memoryRef'];
export type MemoryRefPage = Types.MemoryRefsQuery['memoryRefs'];

/** The states a job ends in. */
export const TERMINAL_JOB_STATUSES: ReadonlySet<Types.CommitJobStatus> = new Set(['SUCCESS', 'PARTIAL_SUCCESS', 'FAILED']);

/** Defaults, as named constants so a caller can see what it overrides. */
export const DEFAULT_MAX_ATTEMPTS = 4;
export const DEFAULT_BASE_DELAY_MS = 200;
export const DEFAULT_MAX_DELAY_MS = 10_000;
export const DEFAULT_WAIT_TIMEOUT_MS = 5 * 60_000;

export interface RetryOptions {
  /** Attempts per request, the first included (1 turns retries off). */
  maxAttempts?: number;
  /** The first backoff; each retry doubles it, with full jitter, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** A WebSocket constructor: the global one (Node 22+, browsers) or `ws`'s. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => unknown;

export interface MemoryGatewayClientOptions {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:8080/graphql. */
  url: string;
  /** The API key: sent as `Authorization: Bearer <key>`, and as `authToken` in a websocket's connection_init. */
  apiKey?: string;
  /** Retries with backoff, for retryable errors only. */
  retry?: RetryOptions;
  /** The fetch to use (the global one by default). */
  fetch?: typeof fetch;
  /** The WebSocket for subscriptions (the global one by default; Node 20 has none: pass `ws`'s). */
  webSocketImpl?: WebSocketConstructor;
  /** The websocket endpoint; the url with ws(s):// by default. */
  wsUrl?: string;
  /** Extra headers on every HTTP request. */
  headers?: Record<string, string>;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface WaitOptions {
  /** Give up (TIMEOUT) after this long. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with every state the subscription delivers, the terminal one included. */
  onUpdate?: (job: Job) => void;
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: GraphQLErrorEntry[];
}

/**
 * A document the client sends: its text, typed with its result and variables.
 * graphql-codegen's string documents (documentMode: string) are such; the
 * shape is the one of @graphql-typed-document-node/core's
 * DocumentTypeDecoration, declared here so the package's types need nothing
 * beyond it.
 */
export interface TypedDocument<TResult, TVariables> {
  toString(): string;
  readonly __apiType?: (variables: TVariables) => TResult;
}

/**
 * A client of Memory Gateway's GraphQL API: typed operations over fetch,
 * job progress over graphql-ws (the graphql-transport-ws subprotocol), typed
 * errors and retries with backoff for retryable errors.
 */
export class MemoryGatewayClient {
  private readonly url: string;
  private readonly wsUrl: string;
  private readonly apiKey: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly webSocketImpl: WebSocketConstructor | undefined;
  private readonly headers: Record<string, string>;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private ws: WsClient | null = null;

  constructor(options: MemoryGatewayClientOptions) {
    if (!options.url) throw new TypeError('MemoryGatewayClient: url is required');
    this.url = options.url;
    this.wsUrl = options.wsUrl ?? options.url.replace(/^http/, 'ws');
    this.apiKey = options.apiKey;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('MemoryGatewayClient: no fetch: use Node 20+ or pass options.fetch');
    this.fetchImpl = f;
    this.webSocketImpl = options.webSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    this.headers = options.headers ?? {};
    this.maxAttempts = Math.max(1, options.retry?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.baseDelayMs = options.retry?.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
    this.maxDelayMs = options.retry?.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  }

  /** Ingest one conversation turn (idempotent: the same turn again is a replay). */
  async ingestTurn(input: Types.IngestConversationTurnInput, options?: RequestOptions): Promise<IngestedTurn> {
    const data = await this.request(Documents.IngestTurnDocument, { input }, options);
    return data.ingestConversationTurn;
  }

  /** Ingest up to 100 turns in one request: one result per turn, in order. */
  async ingestTurns(turns: Types.IngestConversationTurnInput[], options?: RequestOptions): Promise<IngestTurnResult[]> {
    const data = await this.request(Documents.IngestTurnsDocument, { input: { turns } }, options);
    return data.ingestConversationTurns.results.map((r) => ({
      turn: r.turn,
      error: r.error ? new MemoryGatewayError(r.error.code, r.error.message, { field: r.error.field }) : null,
    }));
  }

  /** Retrieve context from every enabled backend, merged and linked to refs. */
  async retrieveContext(input: Types.RetrieveContextInput, options?: RequestOptions): Promise<RetrievedContext> {
    const data = await this.request(Documents.RetrieveContextDocument, { input }, options);
    return data.retrieveContext;
  }

  /** Commit a session: a job (ACCEPTED) with one outbox event per backend. Follow it with waitForJob. */
  async commitSession(input: Types.CommitSessionInput, options?: RequestOptions): Promise<CommitSessionResult> {
    const data = await this.request(Documents.CommitSessionDocument, { input }, options);
    return data.commitSession;
  }

  /** A job of any kind (commit, feedback routing, erasure) by its id; null when there is none. */
  async jobStatus(id: string, options?: RequestOptions): Promise<Job | null> {
    const data = await this.request(Documents.JobStatusDocument, { id }, options);
    const node = data.node as Partial<Job> | null;
    return node && typeof node.status === 'string' ? (node as Job) : null;
  }

  /** Record feedback on a memory ref (idempotent on sourceEventId). */
  async recordFeedback(input: Types.RecordMemoryFeedbackInput, options?: RequestOptions): Promise<RecordFeedbackResult> {
    const data = await this.request(Documents.RecordFeedbackDocument, { input }, options);
    return data.recordMemoryFeedback;
  }

  /** Accept or reject RECEIVED feedback; accepting a correction or delete request routes it (feedback.job). */
  async reviewFeedback(input: Types.ReviewMemoryFeedbackInput, options?: RequestOptions): Promise<Feedback> {
    const data = await this.request(Documents.ReviewFeedbackDocument, { input }, options);
    return data.reviewMemoryFeedback.feedback;
  }

  /** Erase everything about a person in every backend; follow request.job with waitForJob. */
  async eraseSubject(input: Types.EraseSubjectInput, options?: RequestOptions): Promise<EraseSubjectResult> {
    const data = await this.request(Documents.EraseSubjectDocument, { input }, options);
    return data.eraseSubject;
  }

  /** An erasure request, with each backend's outcome. */
  async erasureRequest(id: string, options?: RequestOptions): Promise<ErasureRequest> {
    const data = await this.request(Documents.ErasureRequestDocument, { id }, options);
    return data.erasureRequest;
  }

  /** A memory ref with its graph: its job, what superseded it, what it supersedes, its feedback. */
  async memoryRef(id: string, options?: RequestOptions & { feedbackFirst?: number }): Promise<MemoryRefGraph> {
    const data = await this.request(Documents.MemoryRefDocument, { id, feedbackFirst: options?.feedbackFirst }, options);
    return data.memoryRef;
  }

  /** A page of memory refs, newest first. */
  async memoryRefs(
    vars: { filter?: Types.MemoryRefFilter; first?: number; after?: string } = {},
    options?: RequestOptions,
  ): Promise<MemoryRefPage> {
    const data = await this.request(Documents.MemoryRefsDocument, vars, options);
    return data.memoryRefs;
  }

  /**
   * Follow a job (of any kind) over the jobUpdated subscription until it ends,
   * and return its terminal state. The subscription sends the job's current
   * state first, so a job that ended before the call returns at once. A
   * retryable subscription error (a subscriber that fell behind) subscribes
   * again; any other is thrown as MemoryGatewayError.
   */
  async waitForJob(id: string, options: WaitOptions = {}): Promise<Job> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    const ws = this.websocket();
    return new Promise<Job>((resolve, reject) => {
      let dispose: (() => void) | null = null;
      let settled = false;
      let last: Job | null = null;
      let attempt = 0;
      const finish = (err: Error | null, job?: Job) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        dispose?.();
        if (err) reject(err);
        else resolve(job!);
      };
      const timer = setTimeout(
        () => finish(new MemoryGatewayError('TIMEOUT', `job ${id} did not end within ${timeoutMs} ms`, { retryable: false })),
        timeoutMs,
      );
      const onAbort = () => finish(abortError(options.signal));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });

      const subscribe = () => {
        dispose = ws.subscribe<Types.JobUpdatedSubscription>(
          { query: Documents.JobUpdatedDocument.toString(), variables: { id } },
          {
            next: (msg) => {
              if (msg.errors?.length) {
                onError(msg.errors as GraphQLErrorEntry[]);
                return;
              }
              const job = msg.data?.jobUpdated;
              if (!job) return;
              last = job;
              options.onUpdate?.(job);
              if (TERMINAL_JOB_STATUSES.has(job.status)) finish(null, job);
            },
            error: (err) => onError(err),
            complete: () => {
              // The stream completes after a terminal state; one that ends
              // before it is followed again.
              if (last && TERMINAL_JOB_STATUSES.has(last.status)) finish(null, last);
              else if (!settled) retry(new MemoryGatewayError('UNAVAILABLE', 'the job stream ended early', { retryable: true }));
            },
          },
        );
      };
      const retry = (err: MemoryGatewayError) => {
        attempt++;
        if (attempt >= this.maxAttempts) return finish(err);
        setTimeout(() => !settled && subscribe(), this.backoff(attempt, err));
      };
      const onError = (raw: unknown) => {
        const err = subscriptionError(raw);
        if (err.retryable) retry(err);
        else finish(err);
      };
      subscribe();
    });
  }

  /** Close the websocket, if one was opened. */
  async close(): Promise<void> {
    const ws = this.ws;
    this.ws = null;
    await ws?.dispose();
  }

  /**
   * Send one operation, retrying retryable errors with backoff. Exposed so a
   * caller can send its own typed document (one generated the same way).
   */
  async request<TResult, TVariables>(
    document: TypedDocument<TResult, TVariables>,
    variables: TVariables,
    options: RequestOptions = {},
  ): Promise<TResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send(document, variables, options.signal);
      } catch (err) {
        if (!(err instanceof MemoryGatewayError) || !err.retryable || attempt >= this.maxAttempts) throw err;
        await sleep(this.backoff(attempt, err), options.signal);
      }
    }
  }

  private async send<TResult, TVariables>(
    document: TypedDocument<TResult, TVariables>,
    variables: TVariables,
    signal: AbortSignal | undefined,
  ): Promise<TResult> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      'x-memory-gateway-client': `typescript/${VERSION}`,
      ...this.headers,
    };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let res: Response;
    try {
      res = await this.fetchImpl(this.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: document.toString(), variables }),
        signal,
      });
    } catch (cause) {
      if (signal?.aborted) throw abortError(signal);
      throw new MemoryGatewayError('UNAVAILABLE', 'the gateway could not be reached', { retryable: true, cause });
    }
    let body: GraphQLResponse<TResult> | null = null;
    const text = await res.text().catch(() => '');
    try {
      body = JSON.parse(text) as GraphQLResponse<TResult>;
    } catch {
      body = null;
    }
    if (body?.errors?.length) {
      const err = MemoryGatewayError.fromGraphQL(body.errors[0]!, res.status);
      if (body.errors.length > 1) (err.extensions as { errors?: GraphQLErrorEntry[] }).errors ??= body.errors;
      throw withRetryAfter(err, res);
    }
    if (!res.ok || !body?.data) {
      // A proxy's or load balancer's answer: 502–504 and 429 may pass; anything else will not.
      const retryable = res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504;
      const code = res.status === 429 ? 'RATE_LIMITED' : res.status >= 500 ? 'UNAVAILABLE' : 'BAD_RESPONSE';
      throw withRetryAfter(new MemoryGatewayError(code, `HTTP ${res.status} without a GraphQL result`, { retryable, httpStatus: res.status }), res);
    }
    return body.data;
  }

  /** Full-jitter exponential backoff, never shorter than the gateway's retryAfterMs. */
  private backoff(attempt: number, err: MemoryGatewayError | null): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    const jittered = Math.random() * ceiling;
    return Math.max(jittered, err?.retryAfterMs ?? 0);
  }

  private websocket(): WsClient {
    if (this.ws) return this.ws;
    if (!this.webSocketImpl) {
      throw new MemoryGatewayError('UNAVAILABLE', 'no WebSocket implementation: pass options.webSocketImpl (e.g. the ws package) on Node 20', {
        retryable: false,
      });
    }
    const apiKey = this.apiKey;
    this.ws = createClient({
      url: this.wsUrl,
      webSocketImpl: this.webSocketImpl,
      // The gateway authenticates a websocket from connection_init's payload.
      connectionParams: apiKey ? { authToken: apiKey } : {},
      lazy: true,
      retryAttempts: this.maxAttempts - 1,
      retryWait: (retries) => sleep(this.backoff(retries + 1, null), undefined),
      // A 44xx close is the gateway refusing the key or the protocol:
      // connecting again would be refused again.
      shouldRetry: (event) => !isRefusal(event),
    });
    return this.ws;
  }
}

/** A rate limit's Retry-After header, when the body gave no retryAfterMs. */
function withRetryAfter(err: MemoryGatewayError, res: Response): MemoryGatewayError {
  if (err.retryAfterMs !== null) return err;
  const header = res.headers.get('retry-after');
  const seconds = header === null ? NaN : Number(header);
  if (!Number.isFinite(seconds)) return err;
  return new MemoryGatewayError(err.code, err.message.slice(err.code.length + 2), {
    field: err.field,
    retryable: err.retryable,
    retryAfterMs: seconds * 1000,
    path: err.path,
    extensions: err.extensions,
    httpStatus: err.httpStatus,
  });
}

function isRefusal(event: unknown): boolean {
  const code = (event as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 4400 && code < 4500;
}

/** What graphql-ws hands an error handler: GraphQL errors, a CloseEvent or an Error. */
function subscriptionError(raw: unknown): MemoryGatewayError {
  if (raw instanceof MemoryGatewayError) return raw;
  if (Array.isArray(raw) && raw.length > 0) return MemoryGatewayError.fromGraphQL(raw[0] as GraphQLErrorEntry);
  const close = raw as { code?: unknown; reason?: unknown };
  if (typeof close?.code === 'number') {
    // 4401/4403: the key; 4400/4409/4429: the protocol; others: the connection dropped.
    const code = close.code === 4403 ? 'UNAUTHENTICATED' : isRefusal(raw) ? 'BAD_REQUEST' : 'UNAVAILABLE';
    const reason = close.reason ? `: ${String(close.reason)}` : '';
    return new MemoryGatewayError(code, `websocket closed (${close.code}${reason})`, { retryable: !isRefusal(raw) });
  }
  return new MemoryGatewayError('UNAVAILABLE', raw instanceof Error ? raw.message : 'the job stream failed', { retryable: true, cause: raw });
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new DOMException('the operation was aborted', 'AbortError');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
