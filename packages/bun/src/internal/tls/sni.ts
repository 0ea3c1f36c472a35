import * as Effect from "effect/Effect"
import type { Feed } from "./relay.ts"

/*
 * SNI on the server side: `upgradeTLS` takes one certificate, so a server
 * with `sniContexts`/`sniCallback` reads the first ClientHello record
 * (held in the `Feed`) and chooses its options by the name in it.
 */

const CLIENT_HELLO_LIMIT = 16_384 + 5

/** The SNI host name in a ClientHello record; undefined without one, "incomplete" when more bytes are needed. */
export const sniOf = (b: Uint8Array): string | undefined | "incomplete" => {
  if (b.length < 5) return "incomplete"
  if (b[0] !== 22) return undefined
  const recordEnd = 5 + (((b[3] as number) << 8) | (b[4] as number))
  if (b.length < recordEnd) return b.length >= CLIENT_HELLO_LIMIT ? undefined : "incomplete"
  const u8 = (i: number) => (i < recordEnd ? (b[i] as number) : 0)
  const u16 = (i: number) => (u8(i) << 8) | u8(i + 1)
  let i = 5
  if (u8(i) !== 1) return undefined // not a ClientHello
  i += 4 // type, length
  i += 2 + 32 // version, random
  i += 1 + u8(i) // session id
  i += 2 + u16(i) // cipher suites
  i += 1 + u8(i) // compression methods
  const extensionsEnd = Math.min(recordEnd, i + 2 + u16(i))
  i += 2
  while (i + 4 <= extensionsEnd) {
    const type = u16(i)
    const length = u16(i + 2)
    i += 4
    if (type === 0) {
      // server_name: list length, then (name type, name length, name)
      let j = i + 2
      while (j + 3 <= i + length) {
        const nameType = u8(j)
        const nameLength = u16(j + 1)
        j += 3
        if (nameType === 0 && j + nameLength <= recordEnd)
          return new TextDecoder().decode(b.subarray(j, j + nameLength))
        j += nameLength
      }
      return undefined
    }
    i += length
  }
  return undefined
}

/** Reads (into the feed) until the first ClientHello record is complete, and returns its SNI name. */
export const readServerName = (feed: Feed): Effect.Effect<string | undefined> =>
  Effect.async<string | undefined>((resume) => {
    const check = () => {
      const name = feed.size === 0 ? "incomplete" : sniOf(feed.bytes)
      if (name !== "incomplete") {
        feed.onChange = undefined
        resume(Effect.succeed(name))
      } else if (feed.ended || feed.failed !== undefined || feed.closed) {
        feed.onChange = undefined
        resume(Effect.succeed(undefined))
      }
    }
    feed.onChange = check
    check()
    return Effect.sync(() => {
      feed.onChange = undefined
    })
  })
