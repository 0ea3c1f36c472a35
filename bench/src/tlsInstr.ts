/**
 * Instructions per TLS handshake under callgrind (deterministic, unlike
 * CPU time on a loaded machine). Both ends in this one process, or with
 * SPLIT=client|server only that end here and the other in a child process
 * (not instrumented: valgrind does not follow it), as in `pnpm bench`.
 *
 *   valgrind --tool=callgrind --instr-atstart=no node --import tsx bench/src/tlsInstr.ts
 *   SERVER=raw|netfx CLIENT=raw|netfx|rawctx WARM=500 MEASURE=50 (handshakes)
 *   SPLIT=client|server (the end counted; default both in one process)
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { netfx } from "./impls/netfx.ts"
import { rawNode } from "./impls/rawNode.ts"
import { type Impl, selfSigned } from "./impls/types.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback
const rawCachedContext: Impl = {
  ...rawNode,
  async tlsHandshakes(port, ca, millis) {
    const tls = await import("node:tls")
    const secureContext = tls.createSecureContext({ ca })
    const t0 = performance.now()
    let count = 0
    while (performance.now() < t0 + millis) {
      await new Promise<void>((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port, secureContext })
        s.once("error", reject)
        s.once("close", () => resolve())
        s.resume()
      })
      count++
    }
    return { count, seconds: (performance.now() - t0) / 1000 }
  },
}
const pick = async (which: string): Promise<Impl> =>
  which === "rawctx"
    ? rawCachedContext
    : which === "raw"
      ? rawNode
      : netfx("netfx", (await import("@netfx/node")).NodeNetwork.layer)
const control = (...args: Array<string>) =>
  new Promise<void>((resolve) => {
    const c = spawn("callgrind_control", [...args, String(process.pid)], { stdio: "ignore" })
    c.once("exit", () => resolve())
    c.once("error", () => resolve())
  })

/** `n` sequential handshakes (a count rather than a time: under callgrind one takes longer than a millisecond). */
const handshakes = async (client: Impl, port: number, ca: string, n: number) => {
  let count = 0
  while (count < n) count += (await client.tlsHandshakes!(port, ca, 1)).count
  return count
}

type ToChild = { serve: string; cert: string; key: string } | { connect: string; port: number; ca: string; n: number }

/** The uninstrumented other end (SPLIT): serves or runs handshakes on request. */
const child = () => {
  process.on("message", async (m: ToChild) => {
    if ("serve" in m) process.send!({ port: (await (await pick(m.serve)).tlsServe!(m.cert, m.key)).accept })
    else process.send!({ done: await handshakes(await pick(m.connect), m.port, m.ca, m.n) })
  })
}

const spawnChild = (): { child: ChildProcess; ask: (m: ToChild) => Promise<number> } => {
  const c = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "child"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  })
  process.once("exit", () => c.kill())
  return {
    child: c,
    ask: (m) =>
      new Promise((resolve) => {
        c.once("message", (r: { port?: number; done?: number }) => resolve((r.port ?? r.done) as number))
        c.send(m)
      }),
  }
}

const main = async () => {
  if (process.argv[2] === "child") return child()
  const { cert, key } = selfSigned()
  const serverName = env("SERVER", "netfx")
  const clientName = env("CLIENT", "netfx")
  const split = process.env.SPLIT
  let run: (n: number) => Promise<number>
  if (split === "server") {
    const port = (await (await pick(serverName)).tlsServe!(cert, key)).accept
    const { ask } = spawnChild()
    run = (n) => ask({ connect: clientName, port, ca: cert, n })
  } else {
    const client = await pick(clientName)
    const port =
      split === "client"
        ? await spawnChild().ask({ serve: serverName, cert, key })
        : (await (await pick(serverName)).tlsServe!(cert, key)).accept
    run = (n) => handshakes(client, port, cert, n)
  }
  const warm = await run(Number(env("WARM", "500")))
  await control("-i", "on")
  const measured = await run(Number(env("MEASURE", "50")))
  await control("-i", "off")
  console.log(`server=${serverName} client=${clientName} split=${split ?? "no"} warm ${warm} measured ${measured}`)
  process.exit(0)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
