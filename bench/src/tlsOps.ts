/**
 * Effect operations per connect cycle (connect, read the server's EOF,
 * close the Scope) of a netfx client against a raw node server, plain TCP
 * and TLS, counted by a Supervisor with OpSupervision.
 *
 *   node --import tsx bench/src/tlsOps.ts
 */
import * as net from "node:net"
import { Tcp } from "@netfx/core"
import { NodeNetwork } from "@netfx/node"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as RuntimeFlagsPatch from "effect/RuntimeFlagsPatch"
import * as Supervisor from "effect/Supervisor"
import { rawNode } from "./impls/rawNode.ts"
import { selfSigned } from "./impls/types.ts"

const ops = new Map<string, number>()
let total = 0
class Counter extends Supervisor.AbstractSupervisor<void> {
  get value() {
    return Effect.void
  }
  override onEffect(_fiber: unknown, effect: unknown) {
    total++
    const k = String((effect as { _op?: unknown } | undefined)?._op ?? "?")
    ops.set(k, (ops.get(k) ?? 0) + 1)
  }
}
const main = async () => {
  const { cert, key } = selfSigned()
  const ports = await rawNode.tlsServe!(cert, key)
  const plainServer = net.createServer((s) => s.end())
  await new Promise<void>((r) => plainServer.listen(0, "127.0.0.1", () => r()))
  const plainPort = (plainServer.address() as net.AddressInfo).port
  const rt = ManagedRuntime.make(NodeNetwork.layer)
  const N = 100
  const run = (tls: boolean) =>
    Effect.gen(function* () {
      for (let i = 0; i < N; i++)
        yield* Effect.scoped(
          Effect.flatMap(
            Tcp.connect(
              tls
                ? { host: "127.0.0.1", port: ports.accept, tls: { ca: cert } }
                : { host: "127.0.0.1", port: plainPort },
            ),
            (c) => Effect.either(c.receive()),
          ),
        )
    })
  for (const tls of [false, true]) {
    await rt.runPromise(run(tls))
    ops.clear()
    total = 0
    await rt.runPromise(
      run(tls).pipe(
        Effect.supervised(new Counter()),
        Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision)),
      ),
    )
    console.log(
      `${tls ? "tls" : "plain"}: ${(total / N).toFixed(0)} ops per connect cycle`,
      [...ops]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([k, v]) => `${k}=${(v / N).toFixed(0)}`)
        .join(" "),
    )
  }
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
