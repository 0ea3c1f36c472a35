import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import { customResolver, lookup, serviceName, servicePort } from "../src/resolve.ts"

const tsx = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url))
const src = fileURLToPath(new URL("../src/resolve.ts", import.meta.url))

describe("name resolution example", () => {
  it.live("lookup, serviceName, servicePort and the custom resolver as functions", () =>
    Effect.gen(function* () {
      const lines = yield* lookup("127.0.0.1", 22)
      assert.deepStrictEqual(lines, ["IPv4 stream/6 127.0.0.1:22 (canonical name 127.0.0.1)"])
      assert.strictEqual(yield* serviceName(22), "ssh")
      assert.strictEqual(yield* servicePort("ssh"), 22)
      assert.strictEqual(yield* servicePort("https"), 443)
      const custom = yield* customResolver
      assert.deepStrictEqual(custom.asked, ["xn--strae-oqa.de"])
      assert.match(custom.reply, /^Grüße from 127\.0\.0\.1:\d+$/)
    }).pipe(Effect.provide(NodeNetwork.layer)),
  )

  it.live("resolve.ts runs as a program", () =>
    Effect.gen(function* () {
      const out = yield* Effect.async<string>((resume) => {
        const child = spawn(tsx, [src, "--host", "127.0.0.1", "--port", "22"], { stdio: ["ignore", "pipe", "inherit"] })
        let text = ""
        child.stdout.on("data", (d: Buffer) => {
          text += d.toString()
        })
        child.on("exit", () => resume(Effect.succeed(text)))
        return Effect.sync(() => child.kill())
      }).pipe(Effect.timeout("30 seconds"))
      assert.include(out, "IPv4 stream/6 127.0.0.1:22")
      assert.include(out, "service of port 22: ssh")
      assert.include(out, "port of service ssh: 22")
      assert.include(out, "custom resolver was asked for xn--strae-oqa.de")
    }),
  )
})
