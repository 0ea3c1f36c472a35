import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { client } from "../unix-client.ts"
import { client as datagramClient } from "../unix-datagram-client.ts"
import { server as datagramHello } from "../unix-datagram-hello.ts"
import { client as fdClient } from "../unix-fd-client.ts"
import { server as fdServer } from "../unix-fd-server.ts"
import { server } from "../unix-server.ts"
import type { Demo } from "./Demo.ts"

/** Runs a server until `ready`, then `body`, then interrupts the server. */
const withServer = <E, R>(
  start: (ready: Effect.Effect<void>) => Effect.Effect<unknown, unknown, R>,
  body: Effect.Effect<void, E, R>,
) =>
  Effect.gen(function* () {
    const ready = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(start(Deferred.succeed(ready, undefined).pipe(Effect.asVoid)))
    yield* Deferred.await(ready)
    yield* body
    yield* Fiber.interrupt(fiber)
  })

export const demo: Demo = {
  title:
    "Unix sockets: AnyIO's client/listener, fd passing and datagram examples (unix-*.ts, unix-fd-*.ts, unix-datagram-*.ts)",
  run: Effect.gen(function* () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "netfx-demo-"))
    const sock = path.join(dir, "mysock")
    yield* withServer(
      (ready) => server({ path: sock, onListening: () => ready }),
      Effect.gen(function* () {
        console.log(`  listener on ${sock}`)
        const response = yield* client({ path: sock })
        console.log(`  client sent "Client\\n", got ${JSON.stringify(response)}`)
      }),
    )
    console.log(`  listener closed; socket file removed: ${!fs.existsSync(sock)}`)

    const file = path.join(dir, "examplefile")
    yield* withServer(
      (ready) => fdServer({ path: sock, file, onListening: () => ready }),
      Effect.gen(function* () {
        const contents = yield* fdClient({ path: sock })
        console.log(`  fd-passing client received a descriptor of ${file} and read ${JSON.stringify(contents)}`)
      }),
    )

    yield* withServer(
      (ready) => datagramHello({ path: sock, onBound: () => ready }),
      Effect.gen(function* () {
        const reply = yield* datagramClient({ path: sock, localPath: path.join(dir, "client") })
        console.log(`  connected datagram client sent "Hi there!\\n", got ${JSON.stringify(reply)}`)
      }),
    )
    fs.rmSync(dir, { recursive: true, force: true })
  }),
}
