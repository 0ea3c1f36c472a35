import { assert, describe, it } from "@effect/vitest"
import { Listener, SocketAddress } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"

/** A raw listener the test drives by hand: it reports what `start` installed. */
const fakeListener = () => {
  let handlers: Driver.ListenerHandlers | undefined
  const raw: Driver.RawListener = {
    address: SocketAddress.ipv4("127.0.0.1", 1),
    fd: undefined,
    start: (h) => {
      handlers = h
    },
    close: () => {},
  }
  return { raw, handlers: () => handlers as Driver.ListenerHandlers }
}

describe("Listener logging", () => {
  it.live("accept failures are logged through the caller's Logger, once per interval", () => {
    const lines: Array<{ level: string; message: unknown; annotations: Record<string, unknown> }> = []
    const logger = Logger.make(({ logLevel, message, annotations }) => {
      const record: Record<string, unknown> = {}
      for (const [k, v] of annotations) record[k] = v
      lines.push({ level: logLevel.label, message, annotations: record })
    })
    return Effect.gen(function* () {
      const fake = fakeListener()
      yield* Listener.make([fake.raw])
      const h = fake.handlers()
      for (let i = 0; i < 1000; i++)
        h.onError({ code: "EMFILE", syscall: "accept", cause: undefined, retryIn: "5 millis" })
      // the log fibers run on the caller's runtime: let them finish
      yield* Effect.yieldNow()
      yield* Effect.sleep("10 millis")
      assert.strictEqual(lines.length, 1, JSON.stringify(lines))
      const [line] = lines
      assert.strictEqual(line?.level, "WARN")
      assert.include(String(line?.message), "EMFILE")
      assert.strictEqual(line?.annotations.code, "EMFILE")
      assert.strictEqual(line?.annotations.retryInMillis, 5)
    }).pipe(Effect.scoped, Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })
})
