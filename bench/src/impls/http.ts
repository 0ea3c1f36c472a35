/**
 * The HTTP/1.1 scenario's minimal server logic, shared by every
 * implementation so only the socket API differs: a request is everything up
 * to a blank line (GET requests without a body, as `wrk` sends them);
 * pipelined requests are answered in order, one fixed 200 response each.
 */

const BODY = "Hello, world!"

/** The keep-alive response. */
export const RESPONSE = new TextEncoder().encode(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
)

/** The response of a server that closes after each request (the accept-rate variant). */
export const RESPONSE_CLOSE = new TextEncoder().encode(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`,
)

export { BODY }

const END = [13, 10, 13, 10]

/** Counts complete requests across chunks (state: how much of "\r\n\r\n" was matched). */
export class RequestCounter {
  private matched = 0

  /** The number of requests that `chunk` completes. */
  feed(chunk: Uint8Array): number {
    let done = 0
    let m = this.matched
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]
      if (b === END[m]) {
        if (++m === 4) {
          done++
          m = 0
        }
      } else m = b === 13 ? 1 : 0
    }
    this.matched = m
    return done
  }
}

const cache: Array<Uint8Array> = [new Uint8Array(0), RESPONSE]

/** `n` keep-alive responses in one buffer (one write per chunk, as a real server batches pipelined answers). */
export const responses = (n: number): Uint8Array => {
  let r = cache[n]
  if (r === undefined) {
    r = new Uint8Array(RESPONSE.length * n)
    for (let i = 0; i < n; i++) r.set(RESPONSE, i * RESPONSE.length)
    if (n < 64) cache[n] = r
  }
  return r
}

/** What an implementation's HTTP server is asked to be. */
export interface HttpServeOptions {
  /** 0: any free port. */
  readonly port: number
  /** Bind with SO_REUSEPORT (the reusePort scenario). */
  readonly reusePort: boolean
  /** Answer one request with `Connection: close`, then close (the accept-rate variant). */
  readonly close: boolean
}

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)

/** Whether node:net / node:http can bind with SO_REUSEPORT (`reusePort` of `listen`, Node 22.12+ / 23.1+). */
export const nodeHasReusePort = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12)

/** The rejection for a reusePort server on a Node without it. */
export const noReusePort = (): Promise<never> =>
  Promise.reject(
    new Error(`node:net has no SO_REUSEPORT before Node 22.12 / 23.1 (this is Node ${process.versions.node})`),
  )
