/**
 * The part of autocannon 8's programmatic API the bench uses (the package ships no types, and
 * @types/autocannon would be another install). Shapes follow lib/run.js and lib/requestIterator.js.
 */
declare module 'autocannon' {
  namespace autocannon {
    interface RequestParams {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string | Buffer
    }

    interface Request extends RequestParams {
      /**
       * Called for every request a connection sends (and once when the connection is created). A
       * falsy return for the first request throws; for a later one it restarts the list.
       */
      setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams | null | undefined
    }

    interface Options {
      url: string | string[]
      connections?: number
      /** Seconds. */
      duration?: number
      /** Total requests: the run ends after this many, whatever the duration. */
      amount?: number
      /** Requests per second over all connections: each connection gets a per-second quota. */
      overallRate?: number
      pipelining?: number
      /** Seconds before a request counts as timed out. */
      timeout?: number
      requests?: Request[]
      /** Without it, a rate-limited run records synthetic latencies (coordinated-omission correction). */
      ignoreCoordinatedOmission?: boolean
      skipAggregateResult?: boolean
    }

    interface Result {
      /** Seconds, measured. */
      duration: number
      start: Date
      finish: Date
      errors: number
      timeouts: number
      resets: number
      non2xx: number
      statusCodeStats: Record<string, { count: number }>
    }

    interface Instance extends PromiseLike<Result> {
      on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): this
      on(event: 'done', listener: (result: Result) => void): this
      on(event: 'error', listener: (err: Error) => void): this
      stop(): void
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance
  export = autocannon
}
