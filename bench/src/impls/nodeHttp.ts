import * as http from "node:http"
import { BODY, type HttpServeOptions, nodeHasReusePort, noReusePort } from "./http.ts"
import type { Impl } from "./types.ts"

const HOST = "127.0.0.1"

const none = (): Promise<never> => Promise.reject(new Error("node:http takes part in the http scenarios only"))

/**
 * `node:http` itself: the reference for the HTTP scenarios (its own parser,
 * llhttp, and response writer). It takes part in no other scenario.
 */
export const nodeHttp: Impl = {
  name: "node:http",
  serve: async () => ({ sink: 0, echo: 0, accept: 0, unixSink: undefined }),
  bulk: none,
  pingPong: none,
  many: none,
  accept: none,
  idleServer: none,
  idleOpen: none,
  httpServe: (options: HttpServeOptions) =>
    options.reusePort && !nodeHasReusePort
      ? noReusePort()
      : new Promise((resolve, reject) => {
          const server = http.createServer({ noDelay: true }, (_req, res) => {
            res.writeHead(200, {
              "Content-Type": "text/plain",
              "Content-Length": BODY.length,
              ...(options.close ? { Connection: "close" } : {}),
            })
            res.end(BODY)
          })
          server.keepAliveTimeout = 60_000
          server.once("error", reject)
          server.listen({ host: HOST, port: options.port, ...(options.reusePort ? { reusePort: true } : {}) }, () => {
            const address = server.address()
            resolve(typeof address === "object" && address !== null ? address.port : 0)
          })
        }),
}
