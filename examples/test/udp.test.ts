import { spawn } from "node:child_process"
import { assert, describe, it } from "@effect/vitest"
import { namespaceSupport } from "@netfx/core/testing"
import { NodeNetwork } from "@netfx/node"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { demo } from "../src/demos/udp.ts"
import { client } from "../src/udp-client.ts"
import { server } from "../src/udp-hello-server.ts"
import { src, start, tsx } from "./support.ts"

const namespaceProblem = await namespaceSupport()

describe("UDP examples", () => {
  it.live("hello service and connected client as functions", () =>
    Effect.gen(function* () {
      const bound = yield* Deferred.make<number>()
      const srv = yield* Effect.fork(
        server({ host: "127.0.0.1", port: 0, onBound: (a) => Deferred.succeed(bound, a.port) }),
      )
      const port = yield* Deferred.await(bound)
      assert.strictEqual(yield* client({ host: "127.0.0.1", port }), "Hello, Hi there!\n")
      assert.strictEqual(yield* client({ host: "localhost", port, message: "you" }), "Hello, you")
      yield* Fiber.interrupt(srv)
    }).pipe(Effect.provide(NodeNetwork.layer)),
  )

  it.live("udp-hello-server.ts and udp-client.ts run as programs (localhost, no family named)", () =>
    Effect.gen(function* () {
      const srv = yield* start("udp-hello-server.ts", ["--host", "localhost", "--port", "0"])
      const port = srv.line.replace("listening on ", "")
      assert.match(port, /^\d+$/)
      const cli = yield* start("udp-client.ts", ["--host", "localhost", "--port", port])
      assert.strictEqual(cli.line, "Hello, Hi there!")
    }).pipe(Effect.scoped),
  )

  it.live("the pnpm demo entry runs", () => demo.run.pipe(Effect.provide(NodeNetwork.layer)))

  // Joining a multicast group must not touch the host network: run it in a private namespace.
  it.live.skipIf(namespaceProblem !== undefined)(
    `udp-multicast.ts joins, hears and leaves the group inside unshare -n${namespaceProblem ? ` (skipped: ${namespaceProblem})` : ""}`,
    () =>
      Effect.async<string>((resume) => {
        const child = spawn(
          "unshare",
          [
            "-n",
            "sh",
            "-c",
            'ip link set lo up && ip route add 224.0.0.0/4 dev lo && exec "$@"',
            "sh",
            tsx,
            src("udp-multicast.ts"),
            "--mode",
            "selftest",
          ],
          { stdio: ["ignore", "pipe", "pipe"] },
        )
        let out = ""
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString()
        })
        child.stderr.on("data", (d: Buffer) => {
          out += d.toString()
        })
        child.on("close", () => resume(Effect.succeed(out)))
        return Effect.sync(() => child.kill("SIGKILL"))
      }).pipe(Effect.map((out) => assert.include(out, "group received: NOTIFY * HTTP/1.1", out))),
  )
})
