/**
 * Test byte streams for the buffered / text / asyncio layers:
 * - `feedStream()`: a `SocketStream` whose received bytes the test feeds
 *   chunk by chunk (asyncio's `feed_data` / `feed_eof`), with exact chunk
 *   boundaries;
 * - `scripted(chunks)`: a stream that delivers fixed chunks then ends;
 * - `transports`: connected pairs over real TCP (NodeNetwork) and the
 *   in-memory network (MemoryNetwork).
 */
import { Attribute, MemoryNetwork, NetError, SocketAddress, SocketStream, Tcp } from "@netfx/core"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { concatBytes } from "../../src/internal/bytes.ts"

const encoder = new TextEncoder()
const decoder = new TextDecoder()
export const bytes = (s: string): Uint8Array => encoder.encode(s)
export const text = (b: Uint8Array): string => decoder.decode(b)

export interface FeedStream {
  readonly stream: SocketStream.SocketStream
  /** Bytes the stream "received". */
  feed(data: Uint8Array | string): void
  feedEof(): void
  /** Makes pending and later receives fail with this error (after buffered bytes). */
  break(error: NetError.BrokenResource): void
  /** Everything sent through the stream. */
  readonly sent: Array<Uint8Array>
  readonly state: { eofSent: boolean; closed: boolean }
}

/**
 * A fake `SocketStream` fed by the test. `receive(maxBytes)` returns at most
 * `maxBytes` of the *first* fed chunk (never merging chunks), so chunk
 * boundaries are exactly the fed ones.
 */
export const feedStream = (): FeedStream => {
  const chunks: Array<Uint8Array> = []
  let eof = false
  let failure: NetError.BrokenResource | undefined
  let waiter: (() => void) | undefined
  const state = { eofSent: false, closed: false }
  const sent: Array<Uint8Array> = []
  const wake = () => {
    const w = waiter
    waiter = undefined
    w?.()
  }
  const poll = (maxBytes: number): Effect.Effect<Uint8Array, NetError.ReceiveError> | undefined => {
    if (state.closed) return Effect.fail(new NetError.ClosedResource({ operation: "receive" }))
    const first = chunks[0]
    if (first !== undefined) {
      if (first.length <= maxBytes) {
        chunks.shift()
        return Effect.succeed(first)
      }
      chunks[0] = first.subarray(maxBytes)
      return Effect.succeed(first.subarray(0, maxBytes))
    }
    if (failure !== undefined) return Effect.fail(failure)
    if (eof) return Effect.fail(new NetError.EndOfStream())
    return undefined
  }
  const receive = (maxBytes = 65536): Effect.Effect<Uint8Array, NetError.ReceiveError> => {
    const attempt: Effect.Effect<Uint8Array, NetError.ReceiveError> = Effect.suspend(
      () =>
        poll(maxBytes) ??
        Effect.flatMap(
          Effect.async<void>((resume) => {
            const w = () => resume(Effect.void)
            waiter = w
            return Effect.sync(() => {
              if (waiter === w) waiter = undefined
            })
          }),
          () => attempt,
        ),
    )
    return attempt
  }
  const stream: SocketStream.SocketStream = {
    [SocketStream.TypeId]: SocketStream.TypeId,
    localAddress: SocketAddress.ipv4("127.0.0.1", 1),
    remoteAddress: SocketAddress.ipv4("127.0.0.1", 2),
    family: "ipv4",
    fd: undefined,
    attribute: (key) =>
      Attribute.get(
        {
          localAddress: SocketAddress.ipv4("127.0.0.1", 1),
          remoteAddress: SocketAddress.ipv4("127.0.0.1", 2),
          fd: undefined,
          extra: {},
        },
        key,
      ),
    receive,
    send: (data) =>
      Effect.suspend((): Effect.Effect<void, NetError.SendError> => {
        if (state.closed) return Effect.fail(new NetError.ClosedResource({ operation: "send" }))
        if (failure !== undefined) return Effect.fail(failure)
        sent.push(data instanceof Uint8Array ? data : concatBytes(data))
        return Effect.void
      }),
    sendEof: Effect.sync(() => {
      state.eofSent = true
    }),
    close: Effect.sync(() => {
      state.closed = true
      wake()
    }),
  }
  return {
    stream,
    sent,
    state,
    feed: (data) => {
      const b = typeof data === "string" ? bytes(data) : data
      if (b.length > 0) chunks.push(b)
      wake()
    },
    feedEof: () => {
      eof = true
      wake()
    },
    break: (error) => {
      failure = error
      wake()
    },
  }
}

/** A stream that receives exactly these chunks, then ends. */
export const scripted = (parts: ReadonlyArray<Uint8Array>): SocketStream.SocketStream => {
  const f = feedStream()
  for (const p of parts) f.feed(p)
  f.feedEof()
  return f.stream
}

export { concatBytes } from "../../src/internal/bytes.ts"

/** A connected pair of byte streams over one transport. */
export interface Transport {
  readonly name: string
  readonly layer: Layer.Layer<import("@netfx/core").Network.Network>
  /** `[client, server]`, both in the current Scope. */
  readonly pair: Effect.Effect<
    readonly [SocketStream.SocketStream, SocketStream.SocketStream],
    unknown,
    Scope.Scope | import("@netfx/core").Network.Network
  >
  readonly host: string
}

const tcpPair = (host: string) =>
  Effect.gen(function* () {
    const listener = yield* Tcp.listen({ host, port: 0 })
    const address = listener.address as SocketAddress.Ipv4
    const client = yield* Tcp.connect({ host, port: address.port })
    const server = yield* listener.accept
    return [client, server] as const
  })

export const transports: ReadonlyArray<Transport> = [
  { name: "tcp on node", layer: NodeNetwork.layer, pair: tcpPair("127.0.0.1"), host: "127.0.0.1" },
  { name: "tcp in memory", layer: MemoryNetwork.layer(), pair: tcpPair("127.0.0.1"), host: "127.0.0.1" },
]
