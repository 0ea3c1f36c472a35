/**
 * One benchmark worker process. It prints one JSON line when ready, then
 * answers one JSON line per JSON command line on stdin, and exits when stdin
 * closes. Roles:
 * - `server <impl>`: starts the sink/echo/accept servers; the ready line
 *   carries their ports.
 * - `client <impl>`: runs `Job`s (one scenario run each).
 * - `http-server <impl> <port> <closePort> single|shared`: only the HTTP
 *   servers, bound to the given ports (0: any), with SO_REUSEPORT when
 *   `shared`; the reusePort scenario starts one (`single`) or two
 *   (`shared`) of them. Command `cpu`.
 * - `idle-server <impl>`: starts the idle-memory server (ready line carries
 *   the port); commands `wait` and `mem`.
 * - `idle-client <impl>`: commands `open`, `closeAll` and `mem`.
 * Runs under Node (with --expose-gc) or under Bun, compiled (bench/dist/src/worker.js,
 * `pnpm bench`'s default) or from its source (`--from=src`: tsx on Node).
 */
import * as readline from "node:readline"
import { type Impl, selfSigned, settledMemory, type Target, unixPath, until } from "./impls/types.ts"

export type Job =
  | { readonly scenario: "bulk"; readonly target: Target; readonly bytes: number; readonly chunk: number }
  | { readonly scenario: "pingpong"; readonly port: number; readonly millis: number }
  | { readonly scenario: "many"; readonly port: number; readonly connections: number; readonly millis: number }
  | { readonly scenario: "accept"; readonly port: number; readonly millis: number }
  | { readonly scenario: "acceptBracket"; readonly port: number; readonly millis: number }
  | { readonly scenario: "open"; readonly port: number; readonly connections: number }
  | { readonly scenario: "closeAll" }
  | { readonly scenario: "wait"; readonly connections: number }
  | { readonly scenario: "mem" }
  | { readonly scenario: "cpu" }
  | { readonly scenario: "udp"; readonly port: number; readonly millis: number; readonly size: number }
  | { readonly scenario: "udpCount" }
  | { readonly scenario: "unixDatagram"; readonly path: string; readonly millis: number; readonly size: number }
  | { readonly scenario: "unixDatagramCount" }
  | {
      readonly scenario: "tls"
      readonly port: number
      readonly ca: string
      readonly bytes: number
      readonly chunk: number
    }
  | { readonly scenario: "handshake"; readonly port: number; readonly ca: string; readonly millis: number }

export const IMPLS = ["raw-node", "netfx-node", "platform-node", "node-http", "raw-bun", "netfx-bun"] as const
export type ImplId = (typeof IMPLS)[number]

/** Implementations that run under bun rather than node. */
export const isBun = (id: ImplId): boolean => id.endsWith("-bun")

export const loadImpl = async (id: ImplId): Promise<Impl> => {
  switch (id) {
    case "raw-node":
      return (await import("./impls/rawNode.ts")).rawNode
    case "netfx-node": {
      const { NodeNetwork } = await import("@netfx/node")
      return (await import("./impls/netfx.ts")).netfx("netfx (Node)", NodeNetwork.layer)
    }
    case "platform-node":
      return (await import("./impls/platformNode.ts")).platformNode
    case "node-http":
      return (await import("./impls/nodeHttp.ts")).nodeHttp
    case "raw-bun":
      return (await import("./impls/rawBun.ts")).rawBun
    case "netfx-bun": {
      const mod = (await import("@netfx/bun")) as Record<string, unknown>
      const bunNetwork = mod.BunNetwork as
        | { layer?: Parameters<typeof import("./impls/netfx.ts").netfx>[1] }
        | undefined
      if (bunNetwork?.layer === undefined) throw new Error("@netfx/bun does not export BunNetwork.layer yet")
      return (await import("./impls/netfx.ts")).netfx("netfx (Bun)", bunNetwork.layer)
    }
  }
}

/** Runs a scenario job on a client worker. */
export const runJob = (impl: Impl, job: Job): Promise<unknown> => {
  switch (job.scenario) {
    case "bulk":
      return impl.bulk(job.target, job.bytes, job.chunk)
    case "pingpong":
      return impl.pingPong(job.port, job.millis)
    case "many":
      return impl.many(job.port, job.connections, job.millis)
    case "accept":
      return impl.accept(job.port, job.millis)
    case "acceptBracket":
      if (impl.acceptBracket === undefined) return Promise.reject(new Error(`${impl.name} has no bracket connect`))
      return impl.acceptBracket(job.port, job.millis)
    case "tls":
      if (impl.tlsBulk === undefined) return Promise.reject(new Error(`${impl.name} has no TLS`))
      return impl.tlsBulk(job.port, job.ca, job.bytes, job.chunk)
    case "handshake":
      if (impl.tlsHandshakes === undefined) return Promise.reject(new Error(`${impl.name} has no TLS`))
      return impl.tlsHandshakes(job.port, job.ca, job.millis)
    case "udp":
      if (impl.udpSend === undefined) return Promise.reject(new Error(`${impl.name} has no UDP`))
      return impl.udpSend(job.port, job.millis, job.size)
    case "unixDatagram":
      if (impl.unixDatagramSend === undefined)
        return Promise.reject(new Error(`${impl.name} has no Unix datagram sockets`))
      return impl.unixDatagramSend(job.path, job.millis, job.size)
    default:
      return Promise.reject(new Error(`not a scenario job: ${job.scenario}`))
  }
}

const gc = (): void => {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void }
  if (g.Bun !== undefined) g.Bun.gc(true)
  else if (g.gc !== undefined) g.gc()
  else throw new Error("run node with --expose-gc")
}

/** User + system CPU time this process has used, µs. */
const cpuMicros = (): number => {
  const u = process.cpuUsage()
  return u.user + u.system
}

const main = async () => {
  // stdout carries the protocol: anything an implementation logs goes to stderr
  console.log = console.error
  const [role, id] = process.argv.slice(2)
  if (!IMPLS.includes(id as ImplId)) throw new Error(`unknown implementation ${id}`)
  const impl = await loadImpl(id as ImplId)
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)
  let handle: (job: Job) => Promise<unknown>
  if (role === "server") {
    const ports = await impl.serve()
    const udp = impl.udpSink === undefined ? undefined : await impl.udpSink().catch(() => undefined)
    const tls =
      impl.tlsServe === undefined
        ? undefined
        : await (async () => {
            const { cert, key } = selfSigned()
            return { ...(await impl.tlsServe!(cert, key)), cert }
          })().catch(() => undefined)
    const dgramPath = unixPath("dgram")
    const unixDatagram =
      impl.unixDatagramSink === undefined ? undefined : await impl.unixDatagramSink(dgramPath).catch(() => undefined)
    const http =
      impl.httpServe === undefined
        ? undefined
        : await (async () => ({
            keepAlive: await impl.httpServe!({ port: 0, reusePort: false, close: false }),
            close: await impl.httpServe!({ port: 0, reusePort: false, close: true }),
          }))().catch(() => undefined)
    print({ ...ports, udp: udp?.port, tls, unixDatagram: unixDatagram === undefined ? undefined : dgramPath, http })
    handle = async (job) => {
      // a baseline running in a child process reports its CPU separately
      if (job.scenario === "cpu") return cpuMicros() + ((await unixDatagram?.cpuMicros?.()) ?? 0)
      if (job.scenario === "udpCount") return udp?.received() ?? 0
      if (job.scenario === "unixDatagramCount") return (await unixDatagram?.received()) ?? 0
      throw new Error(`server: unknown command ${job.scenario}`)
    }
  } else if (role === "http-server") {
    if (impl.httpServe === undefined) throw new Error(`${impl.name} has no HTTP server`)
    const [keepAlive, close] = process.argv.slice(4, 6).map(Number)
    const reusePort = process.argv[6] !== "single"
    print({
      keepAlive: await impl.httpServe({ port: keepAlive ?? 0, reusePort, close: false }),
      close: await impl.httpServe({ port: close ?? 0, reusePort, close: true }),
    })
    handle = async (job) => {
      if (job.scenario === "cpu") return cpuMicros()
      throw new Error(`http-server: unknown command ${job.scenario}`)
    }
  } else if (role === "client") {
    print({ ready: true })
    handle = async (job) => {
      const before = cpuMicros()
      const result = (await runJob(impl, job)) as { readonly cpuMicros?: number }
      // a baseline running in a child process reports its CPU separately
      return { ...result, cpuMicros: cpuMicros() - before + (result.cpuMicros ?? 0) }
    }
  } else if (role === "idle-server") {
    const server = await impl.idleServer()
    print({ port: server.port })
    handle = async (job) => {
      if (job.scenario === "wait") {
        await until(() => server.accepted() >= job.connections)
        return { accepted: server.accepted() }
      }
      if (job.scenario === "mem") return settledMemory(gc)
      throw new Error(`idle-server: unknown command ${job.scenario}`)
    }
  } else if (role === "idle-client") {
    const closers: Array<() => Promise<void>> = []
    print({ ready: true })
    handle = async (job) => {
      if (job.scenario === "open") {
        closers.push(await impl.idleOpen(job.port, job.connections))
        return { opened: job.connections }
      }
      if (job.scenario === "closeAll") {
        for (const close of closers.splice(0)) await close()
        return { closed: true }
      }
      if (job.scenario === "mem") return settledMemory(gc)
      throw new Error(`idle-client: unknown command ${job.scenario}`)
    }
  } else {
    throw new Error(`unknown role ${role}`)
  }
  const lines = readline.createInterface({ input: process.stdin })
  for await (const line of lines) {
    if (line.trim() === "") continue
    try {
      print({ ok: await handle(JSON.parse(line) as Job) })
    } catch (e) {
      print({ error: e instanceof Error ? e.message : String(e) })
    }
  }
  process.exit(0)
}

// only when run as a script (the smoke test imports the helpers above)
if (process.argv[1] !== undefined && /worker\.[jt]s$/.test(process.argv[1])) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    process.exit(1)
  })
}
