/**
 * The asyncio notes' multicast socket, in netfx: a UDP socket on port 1900
 * (SSDP's) with SO_REUSEADDR, that joins the group 239.255.255.250 and
 * prints what the group receives. The membership is a scoped resource: the
 * group is left when the program stops. `announce` sends one datagram to
 * the group.
 *
 * Joining a group touches the machine's real network; try it inside a
 * private namespace, as the smoke test does:
 *
 *   unshare -n sh -c 'ip link set lo up && ip route add 224.0.0.0/4 dev lo && \
 *     tsx examples/src/udp-multicast.ts --mode selftest'
 *
 *   tsx examples/src/udp-multicast.ts --mode listen [--port 1900] [--interface 127.0.0.1]
 *   tsx examples/src/udp-multicast.ts --mode announce --message hello [--port 1900]
 */
import { type Network, Udp } from "@netfx/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { arg, decode, encode, isMain, runMain } from "./runtime.ts"

export const GROUP = "239.255.255.250"

/** Joins the group on `port` and hands every datagram to `onMessage` until interrupted. */
export const listen = (options: {
  readonly port: number
  readonly group?: string
  readonly interface?: string
  readonly onJoined?: (port: number) => Effect.Effect<void>
  readonly onMessage: (text: string, from: string) => Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    // the seed's socket: bind ('', 1900), SO_REUSEADDR, IP_ADD_MEMBERSHIP
    // (its SO_REUSEPORT is available as `reusePort: true` where the runtime has it)
    const udp = yield* Udp.bind({ host: "0.0.0.0", port: options.port, reuseAddress: true })
    yield* udp.joinMulticastGroup({
      group: options.group ?? GROUP,
      ...(options.interface === undefined ? {} : { interface: options.interface }),
    })
    if (options.onJoined) yield* options.onJoined(udp.localAddress.port)
    yield* Stream.runForEach(udp.packets, ({ data, address }) =>
      options.onMessage(decode(data), `${address.host}:${address.port}`),
    )
  }).pipe(Effect.scoped)

/** Sends one datagram to the group. */
export const announce = (options: {
  readonly port: number
  readonly message: string
  readonly group?: string
  readonly interface?: string
}) =>
  Effect.gen(function* () {
    const udp = yield* Udp.bind({ family: "ipv4" })
    if (options.interface !== undefined) yield* udp.setMulticastInterface(options.interface)
    yield* udp.setMulticastTtl(1)
    yield* udp.sendTo(encode(options.message), { host: options.group ?? GROUP, port: options.port })
  }).pipe(Effect.scoped)

/** Listener and announcer in one program: returns what the listener heard. */
export const selftest = (options: { readonly interface?: string } = {}) =>
  Effect.gen(function* () {
    const joined = yield* Deferred.make<number>()
    const heard = yield* Deferred.make<string>()
    const listener = yield* Effect.fork(
      listen({
        port: 0,
        ...options,
        onJoined: (port) => Deferred.succeed(joined, port),
        onMessage: (text) => Deferred.succeed(heard, text),
      }),
    )
    const port = yield* Deferred.await(joined)
    yield* announce({ port, message: "NOTIFY * HTTP/1.1", ...options })
    const text = yield* Deferred.await(heard).pipe(Effect.timeout("5 seconds"))
    yield* Fiber.interrupt(listener)
    return text
  })

if (isMain(import.meta.url)) {
  const mode = arg("mode", "listen")
  const port = Number(arg("port", "1900"))
  const iface = arg("interface", "")
  const where = iface === "" ? {} : { interface: iface }
  const program: Effect.Effect<unknown, unknown, Network.Network> =
    mode === "announce"
      ? announce({ port, message: arg("message", "hello"), ...where })
      : mode === "selftest"
        ? Effect.flatMap(selftest(where), (text) => Effect.sync(() => console.log(`group received: ${text}`)))
        : listen({
            port,
            ...where,
            onJoined: (p) => Effect.sync(() => console.log(`joined ${GROUP} on port ${p}`)),
            onMessage: (text, from) => Effect.sync(() => console.log(`${from}: ${text}`)),
          })
  runMain(program)
}
