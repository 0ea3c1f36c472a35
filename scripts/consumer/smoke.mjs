// The consumer test's smoke program: plain JavaScript, run with `node` (20,
// 22, 24) and with `bun` in a project that installed the netfx tarballs.
// Every step prints one line; any failure exits non-zero.
//
//   node smoke.mjs <dir with cert.pem and key.pem> <temp dir for Unix paths>
import * as assert from "node:assert/strict"
import { readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, relative } from "node:path"
import { FdPassing, Tcp, Udp, UnixDatagram } from "@netfx/core"
import { Effect } from "effect"

const [certDir, tmp] = process.argv.slice(2)
const isBun = typeof globalThis.Bun !== "undefined"
const runtime = isBun ? "bun" : "node"
// the Layer of the running runtime, from the published package
const { layer } = isBun ? (await import("@netfx/bun")).BunNetwork : (await import("@netfx/node")).NodeNetwork

const encode = (s) => new TextEncoder().encode(s)
const decode = (b) => new TextDecoder().decode(b)
const step = (name, effect) =>
  Effect.tap(effect, (detail) => Effect.sync(() => console.log(`ok ${runtime} ${name}${detail ? `: ${detail}` : ""}`)))

/** Reads until `n` bytes arrived. */
const receiveN = (conn, n) =>
  Effect.gen(function* () {
    let text = ""
    while (text.length < n) text += decode(yield* conn.receive())
    return text
  })

// TCP echo through `serve`
const tcp = Effect.gen(function* () {
  const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
  yield* Effect.forkScoped(
    listener.serve((conn) => Effect.forever(Effect.flatMap(conn.receive(), (b) => conn.send(b)))),
  )
  const conn = yield* Tcp.connect({ host: "127.0.0.1", port: listener.address.port })
  yield* conn.send(encode("hello over tcp"))
  const echoed = yield* receiveN(conn, 14)
  assert.equal(echoed, "hello over tcp")
  return `echoed ${echoed.length} bytes via port ${listener.address.port}`
}).pipe(Effect.scoped)

// TLS round trip: a certificate for localhost made at test time by openssl
const tls = Effect.gen(function* () {
  const cert = readFileSync(join(certDir, "cert.pem"), "utf8")
  const key = readFileSync(join(certDir, "key.pem"), "utf8")
  const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0, tls: { cert, key } })
  yield* Effect.forkScoped(
    listener.serve((conn) => Effect.flatMap(conn.receive(), (b) => conn.send(encode(`Hello, ${decode(b)}`)))),
  )
  const conn = yield* Tcp.connect({
    host: "127.0.0.1",
    port: listener.address.port,
    tls: { ca: cert, serverName: "localhost" },
  })
  yield* conn.send(encode("tls"))
  const reply = yield* receiveN(conn, 10)
  assert.equal(reply, "Hello, tls")
  return reply
}).pipe(Effect.scoped)

// UDP round trip
const udp = Effect.gen(function* () {
  const a = yield* Udp.bind({ host: "127.0.0.1", port: 0 })
  const b = yield* Udp.bind({ host: "127.0.0.1", port: 0 })
  yield* a.sendTo(encode("ping"), { host: "127.0.0.1", port: b.localAddress.port })
  const got = yield* b.receive()
  assert.equal(decode(got.data), "ping")
  yield* b.sendTo(encode("pong"), got.address)
  const back = yield* a.receive()
  assert.equal(decode(back.data), "pong")
  return "ping/pong"
}).pipe(Effect.scoped)

// Unix datagram sockets (the @netfx/native addon)
const unixDatagram = Effect.gen(function* () {
  const server = yield* UnixDatagram.bind({ path: join(tmp, `${runtime}-dgram-server.sock`) })
  const client = yield* UnixDatagram.bind({ path: join(tmp, `${runtime}-dgram-client.sock`) })
  yield* client.sendTo(encode("hello unix"), server.localAddress)
  const packet = yield* server.receive()
  assert.equal(decode(packet.data), "hello unix")
  yield* server.sendTo(encode("reply"), packet.address)
  assert.equal(decode((yield* client.receive()).data), "reply")
  return "round trip"
}).pipe(Effect.scoped)

// fd passing (SCM_RIGHTS, the @netfx/native addon): send a file's descriptor
// across a socket pair and read the file through the received one
const fdPassing = Effect.gen(function* () {
  const file = join(tmp, `${runtime}-passed.txt`)
  writeFileSync(file, "passed by descriptor")
  const [left, right] = yield* FdPassing.socketpair()
  const { openSync, closeSync } = yield* Effect.promise(() => import("node:fs"))
  const fd = openSync(file, "r")
  yield* left.sendFds(encode("x"), [fd])
  closeSync(fd)
  const message = yield* right.receiveFds(16, 1)
  const received = message.fds[0]
  assert.ok(received !== undefined, "no descriptor arrived")
  const handle = yield* FdPassing.toFileHandle(yield* received.take)
  const contents = decode(yield* handle.readAll)
  assert.equal(contents, "passed by descriptor")
  // which addon binary the runtime package loaded (a prebuilt one, or build/Release)
  const require = createRequire(import.meta.resolve(isBun ? "@netfx/bun" : "@netfx/node"))
  const native = require("@netfx/native")
  const from =
    native.loadedFrom === undefined ? "?" : relative(dirname(require.resolve("@netfx/native")), native.loadedFrom)
  return `${contents} (addon binary: ${from})`
}).pipe(Effect.scoped)

// every public entry point of the packages this runtime uses loads
// (`@netfx/core/testing` needs vitest, which this project does not install)
const entries = Effect.promise(async () => {
  let count = 0
  for (const pkg of ["@netfx/core", isBun ? "@netfx/bun" : "@netfx/node", "@netfx/cluster"]) {
    const manifest = JSON.parse(readFileSync(new URL(import.meta.resolve(`${pkg}/package.json`)), "utf8"))
    for (const key of Object.keys(manifest.exports)) {
      if (key === "./package.json" || key.startsWith("./testing")) continue
      await import(key === "." ? pkg : `${pkg}/${key.slice(2)}`)
      count++
    }
  }
  return `${count} entry points`
})

const program = Effect.gen(function* () {
  yield* step("import every public entry point", entries)
  yield* step("tcp echo via serve", tcp)
  yield* step("tls round trip", tls)
  yield* step("udp round trip", udp)
  yield* step("unix datagram", unixDatagram)
  yield* step("fd passing", fdPassing)
})

await Effect.runPromise(
  program.pipe(
    Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new Error("smoke program timed out") }),
    Effect.provide(layer),
  ),
)
console.log(`ok ${runtime} ${process.versions.bun ?? process.version}: all smoke steps passed`)
