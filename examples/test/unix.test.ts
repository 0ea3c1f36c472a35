import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { NodeNetwork } from "@netfx/node"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { demo } from "../src/demos/unix.ts"
import { client } from "../src/unix-client.ts"
import { client as datagramClient } from "../src/unix-datagram-client.ts"
import { server as datagramHello } from "../src/unix-datagram-hello.ts"
import { client as fdClient } from "../src/unix-fd-client.ts"
import { server as fdServer } from "../src/unix-fd-server.ts"
import { server } from "../src/unix-server.ts"
import { start } from "./support.ts"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "netfx-ex-unix-"))

/** Forks a server, waits until it is ready, returns its fiber. */
const serve = <E, R>(run: (ready: Effect.Effect<void>) => Effect.Effect<unknown, E, R>) =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(run(Effect.asVoid(Deferred.succeed(ready, undefined))))
    yield* Deferred.await(ready)
    return fiber
  })

describe("Unix examples", () => {
  it.live("client and listener as functions; the socket file is removed when the server stops", () =>
    Effect.gen(function* () {
      const sock = path.join(tempDir(), "mysock")
      const srv = yield* serve((ready) => server({ path: sock, onListening: () => ready }))
      assert.strictEqual(yield* client({ path: sock }), "Hello, Client\n\n")
      assert.strictEqual(yield* client({ path: sock, message: "netfx" }), "Hello, netfx\n")
      yield* Fiber.interrupt(srv)
      assert.isFalse(fs.existsSync(sock))
    }).pipe(Effect.provide(NodeNetwork.layer)),
  )

  it.live("fd passing: the server sends an open file, the client reads it", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const sock = path.join(dir, "mysock")
      const srv = yield* serve((ready) =>
        fdServer({ path: sock, file: path.join(dir, "examplefile"), onListening: () => ready }),
      )
      assert.strictEqual(yield* fdClient({ path: sock }), "Test file")
      assert.strictEqual(yield* fdClient({ path: sock }), "Test file")
      yield* Fiber.interrupt(srv)
    }).pipe(Effect.provide(NodeNetwork.layer)),
  )

  it.live("datagram hello service and connected datagram client", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const sock = path.join(dir, "mysock")
      const srv = yield* serve((ready) => datagramHello({ path: sock, onBound: () => ready }))
      assert.strictEqual(yield* datagramClient({ path: sock, localPath: path.join(dir, "c1") }), "Hello, Hi there!\n")
      // the seed's form: connected, send only
      assert.strictEqual(yield* datagramClient({ path: sock }), undefined)
      assert.strictEqual(
        yield* datagramClient({ path: sock, localPath: path.join(dir, "c2"), message: "you" }),
        "Hello, you",
      )
      yield* Fiber.interrupt(srv)
    }).pipe(Effect.provide(NodeNetwork.layer)),
  )

  it.live("the example files run as programs (server + client processes)", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const sock = path.join(dir, "mysock")
      const srv = yield* start("unix-server.ts", ["--path", sock])
      assert.strictEqual(srv.line, `listening on ${sock}`)
      const cli = yield* start("unix-client.ts", ["--path", sock])
      assert.strictEqual(cli.line, "Hello, Client")
      const fdSock = path.join(dir, "fdsock")
      const fdSrv = yield* start("unix-fd-server.ts", ["--path", fdSock, "--file", path.join(dir, "examplefile")])
      assert.strictEqual(fdSrv.line, `listening on ${fdSock}`)
      const fdCli = yield* start("unix-fd-client.ts", ["--path", fdSock])
      assert.strictEqual(fdCli.line, "Test file")
      const dgSock = path.join(dir, "dgsock")
      const dg = yield* start("unix-datagram-hello.ts", ["--path", dgSock])
      assert.strictEqual(dg.line, `bound to ${dgSock}`)
      const dgCli = yield* start("unix-datagram-client.ts", ["--path", dgSock, "--local", path.join(dir, "dgc")])
      assert.strictEqual(dgCli.line, "Hello, Hi there!")
    }).pipe(Effect.scoped),
  )

  it.live("the pnpm demo entry runs", () => demo.run.pipe(Effect.provide(NodeNetwork.layer)))
})
