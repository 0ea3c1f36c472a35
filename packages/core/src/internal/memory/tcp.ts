import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type { ConnectRequest, ListenRequest, Restore, TcpDriver } from "../../Driver.ts"
import { ConnectFailed, ListenFailed } from "../../NetError.ts"
import * as SocketAddress from "../../SocketAddress.ts"
import type { MemoryNet } from "./network.ts"
import { MemoryConnection, MemoryListener } from "./stream.ts"

/** Where a network view's outgoing connections come from. @internal */
export interface View {
  readonly ipv4?: string | undefined
  readonly ipv6?: string | undefined
}

/** Sleeps on the network's clock; nothing at all for 0. @internal */
export const delay = (ms: number): Effect.Effect<void> => (ms > 0 ? Effect.sleep(Duration.millis(ms)) : Effect.void)

/** The in-memory TCP driver. @internal */
export const tcpDriver = (net: MemoryNet, view: View): TcpDriver => ({
  connect: (request: ConnectRequest, restore: Restore = Effect.interruptible) =>
    Effect.gen(function* () {
      const remote = request.address
      const remoteHost = remote.host.toLowerCase()
      const fail = (code: string) =>
        new ConnectFailed({
          host: remote.host,
          port: remote.port,
          attempts: [{ address: remote, code, syscall: "connect" }],
        })
      const localHost = (
        request.localHost === undefined
          ? net.sourceFor(remoteHost, view)
          : (net.expand(request.localHost).find((h) => h.includes(":") === remoteHost.includes(":")) ??
            request.localHost)
      ).toLowerCase()
      net.connects.push({ at: net.now(), transport: "tcp", from: localHost, address: remote })
      // run uninterruptibly by core (TcpDriver): only the waits are interruptible (as the caller was)
      // across a partition the SYNs are retransmitted until it heals
      while (net.partitioned(localHost, remoteHost)) yield* restore(net.healed)
      const forward = net.faults(localHost, remoteHost)
      if (forward.blackhole) {
        // SYNs vanish: the connect hangs until interrupted (or a timeout the caller sets)
        return yield* restore(Effect.never)
      }
      // SYN
      yield* restore(delay(net.departure(localHost, remoteHost, forward, 0) - net.now()))
      const back = net.faults(remoteHost, localHost)
      const listener = forward.refuse ? undefined : net.lookup<MemoryListener>("tcp", remote)
      if (listener === undefined) {
        // RST back
        yield* restore(delay(net.departure(remoteHost, localHost, back, 0) - net.now()))
        net.stats.connectionsRefused++
        return yield* Effect.fail(fail("ECONNREFUSED"))
      }
      let localPort = request.localPort ?? 0
      if (localPort === 0) {
        const p = net.ephemeral("tcp", localHost)
        if (p === undefined) return yield* Effect.fail(fail("EADDRNOTAVAIL"))
        localPort = p
      } else if (net.used.has(`tcp|${localHost}|${localPort}`)) {
        return yield* Effect.fail(fail("EADDRINUSE"))
      }
      const portKey = `tcp|${localHost}|${localPort}`
      const local = SocketAddress.ip(localHost, localPort)
      net.used.add(portKey)
      const [client, server] = MemoryConnection.pair(net, "tcp", local, remote, () => net.used.delete(portKey))
      listener.deliver(server)
      // SYN-ACK; the caller owns the client once it is returned, this closes it before
      yield* Effect.catchAllCause(
        restore(delay(net.departure(remoteHost, localHost, back, 0) - net.now())),
        (cause) => {
          client.close()
          return Effect.failCause(cause)
        },
      )
      return client
    }),
  listen: (request: ListenRequest) =>
    Effect.uninterruptible(
      Effect.flatMap(Effect.scope, (scope) => {
        const result = net.bind(
          {
            transport: "tcp",
            address: request.address,
            reusePort: request.reusePort,
            ipv6Only: request.ipv6Only,
          },
          (address) => {
            const listener: MemoryListener = new MemoryListener(net, "tcp", address, () =>
              net.unbind("tcp", address, listener),
            )
            return listener
          },
        )
        if ("code" in result) {
          return Effect.fail(new ListenFailed({ address: request.address, code: result.code, syscall: "listen" }))
        }
        const listener = result.target
        return Effect.as(
          Scope.addFinalizer(
            scope,
            Effect.sync(() => listener.close()),
          ),
          listener,
        )
      }),
    ),
})
