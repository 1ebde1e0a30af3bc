/** The part of autocannon's API the HTTP bench uses (the package ships no types). */
declare module 'autocannon' {
  interface Options {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string
    /** setupRequest may rewrite each request before it is sent (a new body each time). */
    requests?: { setupRequest?: (request: RequestParams) => RequestParams }[]
    connections?: number
    duration?: number
  }
  interface RequestParams {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
  }
  interface Histogram {
    average: number
    p50: number
    p99: number
  }
  export interface Result {
    requests: Histogram & { total: number }
    latency: Histogram
    non2xx: number
    errors: number
  }
  interface Instance {
    /** Ends the load before its duration; the callback then gets the result so far. */
    stop(): void
  }
  function autocannon(options: Options): Promise<Result>
  function autocannon(options: Options, done: (error: Error | null, result: Result) => void): Instance
  export default autocannon
}
