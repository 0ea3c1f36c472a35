/**
 * Unix stream socket contract tests (on top of the byte-stream contract):
 * paths, abstract names, stale paths, modes and removal.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import type { Network } from "../src/Network.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import * as Unix from "../src/Unix.ts"
import { python } from "./peers.ts"
import {
  bytes,
  type ContractEnvironment,
  countingScope,
  echo,
  eventually,
  readAll,
  type StreamTransport,
  streamContract,
  text,
} from "./StreamContract.ts"

type UnixConnectAddress = SocketAddress.UnixPath | SocketAddress.UnixAbstract

let counter = 0
let sharedDir: string | undefined

/**
 * A fresh socket path in a private temp directory (removed at exit).
 *
 * @since 0.1.0
 */
export const tempSocketPath = (label = "s"): string => {
  if (sharedDir === undefined) {
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "netfx-unix-"))
    sharedDir = dir
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  }
  return nodePath.join(sharedDir, `${label}-${counter++}.sock`)
}

/**
 * A fresh abstract-namespace name.
 *
 * @since 0.1.0
 */
export const tempAbstractName = (label = "netfx"): SocketAddress.UnixAbstract =>
  SocketAddress.unixAbstract(`${label}-${process.pid}-${Date.now()}-${counter++}`)

/**
 * The Unix stream transport for {@link streamContract}: a fresh path per
 * listener, or a fresh abstract name.
 *
 * @since 0.1.0
 */
export const unixTransport = (kind: "path" | "abstract" = "path"): StreamTransport => ({
  name: kind === "path" ? "Unix path" : "Unix abstract",
  listen: Effect.suspend(() => Unix.listen({ path: kind === "path" ? tempSocketPath() : tempAbstractName() })),
  connect: (listener) =>
    Unix.connect({ path: listener.address as SocketAddress.UnixPath | SocketAddress.UnixAbstract }),
})

/**
 * Registers the byte-stream contract over Unix paths and abstract names
 * plus the Unix-only tests.
 *
 * @since 0.1.0
 */
export const unixContract = (env: ContractEnvironment): void => {
  streamContract(env, unixTransport("path"))
  streamContract(env, unixTransport("abstract"))

  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(env.layer))

  describe(`Unix stream sockets on ${env.name}`, () => {
    it.live("withConnection closes the connection when use succeeds or fails (the peer reads EOF); errors typed", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath()
          const listener = yield* Unix.listen({ path })
          for (const outcome of ["succeed", "fail"] as const) {
            const exit = yield* Effect.exit(
              Unix.withConnection({ path }, (conn) =>
                Effect.zipRight(
                  conn.send(bytes(outcome)),
                  outcome === "fail" ? Effect.fail("use failed" as const) : Effect.succeed(conn),
                ),
              ),
            )
            const server = yield* listener.accept
            // closed before withConnection returned: the peer reads everything, then EOF
            assert.strictEqual(text(yield* readAll(server)), outcome)
            if (outcome === "fail") assert.deepStrictEqual(exit, Exit.fail("use failed" as const))
            if (Exit.isSuccess(exit)) {
              const late = yield* Effect.flip(exit.value.receive())
              assert.strictEqual(late._tag, "ClosedResource")
            }
          }
          const missing = yield* Effect.flip(
            Unix.withConnection({ path: `${path}.missing` }, () => Effect.dieMessage("use must not run")),
          )
          assert.strictEqual(missing._tag === "ConnectFailed" ? missing.attempts[0]?.code : missing._tag, "ENOENT")
        }),
      ),
    )

    it.live(
      "a refused or interrupted connect leaves nothing in the caller's Scope; one that succeeds registers one finalizer",
      () =>
        run(
          Effect.gen(function* () {
            for (const kind of ["path", "abstract"] as const) {
              const listening =
                kind === "path" ? Unix.listen({ path: tempSocketPath() }) : Unix.listen({ path: tempAbstractName() })
              // a stale path (ECONNREFUSED) / a name nobody holds (ECONNREFUSED)
              const gone = yield* Effect.scoped(Effect.map(listening, (l) => l.address as UnixConnectAddress))
              const { scope: counting, outer, calls } = yield* countingScope
              for (let i = 0; i < 20; i++) {
                const error = yield* Effect.flip(Scope.extend(Unix.connect({ path: gone }), counting))
                assert.strictEqual(error._tag, "ConnectFailed")
              }
              const pending = yield* Effect.fork(Scope.extend(Unix.connect({ path: gone }), counting))
              yield* Fiber.interrupt(pending)
              // a retry loop in a long-lived Scope must not accumulate anything
              assert.strictEqual(calls(), 0, kind)
              const listener = yield* Scope.extend(listening, outer)
              const conn = yield* Scope.extend(Unix.connect({ path: listener.address as UnixConnectAddress }), counting)
              // the stream and its socket: one release
              assert.strictEqual(calls(), 1, kind)
              yield* Scope.close(outer, Exit.void)
              assert.strictEqual((yield* Effect.flip(conn.receive()))._tag, "ClosedResource")
            }
          }),
        ),
    )

    it.live.skipIf(env.openFds === undefined)(
      "a connect to a full backlog fails typed (timeout, or EAGAIN), is interruptible, and leaks no descriptor",
      () =>
        run(
          Effect.gen(function* () {
            const open = env.openFds as () => number
            for (const kind of ["path", "abstract"] as const) {
              const address: UnixConnectAddress =
                kind === "path" ? SocketAddress.unixPath(tempSocketPath()) : tempAbstractName()
              // listen(0), never accept: one connection fills the queue
              yield* python(
                `import socket,sys\na=sys.argv[1]\ns=socket.socket(socket.AF_UNIX)\ns.bind("\\0"+a[1:] if a.startswith("@") else a)\ns.listen(0)\nprint("ok",flush=True)\nsys.stdin.read()`,
                [address._tag === "UnixPath" ? address.path : `@${address.name}`],
              )
              const before = open()
              yield* Effect.scoped(
                Effect.gen(function* () {
                  const outcomes: Array<string> = []
                  for (let i = 0; i < 4; i++) {
                    const r = yield* Effect.either(Unix.connect({ path: address, timeout: "200 millis" }))
                    outcomes.push(
                      r._tag === "Right"
                        ? "connected"
                        : ((r.left._tag === "ConnectFailed" ? r.left.attempts[0]?.code : r.left._tag) ?? "?"),
                    )
                  }
                  assert.strictEqual(outcomes[0], "connected", `${kind}: ${outcomes.join(", ")}`)
                  const failed = outcomes.filter((o) => o !== "connected")
                  assert.isAbove(failed.length, 0, `${kind}: ${outcomes.join(", ")}`)
                  // the addon retries a full queue until the timeout; node:net reports EAGAIN at once
                  for (const code of failed) assert.include(["ETIMEDOUT", "EAGAIN"], code, kind)
                  const bracket = yield* Effect.flip(
                    Unix.withConnection({ path: address, timeout: "100 millis" }, () =>
                      Effect.dieMessage("use must not run"),
                    ),
                  )
                  assert.strictEqual(bracket._tag, "ConnectFailed")
                  // interrupted while it waits (or already failed with EAGAIN)
                  for (const attempt of [
                    Effect.scoped(Unix.connect({ path: address })),
                    Unix.withConnection({ path: address }, () => Effect.dieMessage("use must not run")),
                  ]) {
                    const fiber = yield* Effect.fork(attempt)
                    yield* Effect.sleep("50 millis")
                    const exit = yield* Fiber.interrupt(fiber)
                    assert.isTrue(Exit.isFailure(exit), kind)
                  }
                }),
              )
              yield* eventually(() => open() <= before, `${kind}: descriptors back to ${before} (now ${open()})`)
            }
          }),
        ),
    )

    it.live("addresses: listener, client and accepted side report the Unix addresses", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath()
          const listener = yield* Unix.listen({ path })
          assert.deepStrictEqual(listener.address, SocketAddress.unixPath(path))
          const conn = yield* Unix.connect({ path })
          const server = yield* listener.accept
          assert.deepStrictEqual(conn.remoteAddress, SocketAddress.unixPath(path))
          assert.deepStrictEqual(server.localAddress, SocketAddress.unixPath(path))
          assert.strictEqual(conn.family, "unix")
          assert.isNumber(conn.fd)
        }),
      ),
    )

    it.live("a stale socket file (nobody listening) is replaced", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath()
          // leave a socket file behind without a listener
          yield* Effect.scoped(Unix.listen({ path, removeOnClose: false }))
          assert.isTrue(fs.lstatSync(path).isSocket(), "stale socket file left behind")
          const listener = yield* Unix.listen({ path })
          yield* Effect.forkScoped(listener.serve(echo))
          const conn = yield* Unix.connect({ path })
          yield* conn.send(bytes("again"))
          yield* conn.sendEof
          assert.strictEqual(text(yield* readAll(conn)), "again")
        }),
      ),
    )

    it.live("a live listener's path is not stolen: ListenFailed EADDRINUSE", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath()
          const first = yield* Unix.listen({ path })
          const exit = yield* Effect.exit(Effect.scoped(Unix.listen({ path })))
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) {
            const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
            assert.strictEqual(error?._tag, "ListenFailed")
            assert.strictEqual(error?._tag === "ListenFailed" ? error.code : "", "EADDRINUSE")
          }
          // the first listener still works
          yield* Effect.forkScoped(first.serve(echo))
          const conn = yield* Unix.connect({ path })
          yield* conn.send(bytes("still mine"))
          yield* conn.sendEof
          assert.strictEqual(text(yield* readAll(conn)), "still mine")
        }),
      ),
    )

    it.live("a live Python listener's path is not stolen either", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath()
          yield* python(
            `import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(5)\nprint("ok",flush=True)\nsys.stdin.read()`,
            [path],
          )
          const exit = yield* Effect.exit(Effect.scoped(Unix.listen({ path })))
          assert.isTrue(Exit.isFailure(exit))
          assert.isTrue(fs.lstatSync(path).isSocket())
        }),
      ),
    )

    it.live("a regular file or a directory at the path fails and is left untouched", () =>
      run(
        Effect.gen(function* () {
          const file = tempSocketPath()
          fs.writeFileSync(file, "precious")
          const e1 = yield* Effect.flip(Effect.scoped(Unix.listen({ path: file })))
          assert.strictEqual(e1._tag, "ListenFailed")
          assert.strictEqual(fs.readFileSync(file, "utf8"), "precious")
          const dir = tempSocketPath()
          fs.mkdirSync(dir)
          const e2 = yield* Effect.flip(Effect.scoped(Unix.listen({ path: dir })))
          assert.strictEqual(e2._tag, "ListenFailed")
          assert.isTrue(fs.statSync(dir).isDirectory())
        }),
      ),
    )

    it.live("mode applies to the socket file; the file is removed when the scope closes", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath()
          yield* Effect.scoped(
            Effect.gen(function* () {
              yield* Unix.listen({ path, mode: 0o600 })
              assert.strictEqual(fs.statSync(path).mode & 0o777, 0o600)
            }),
          )
          assert.isFalse(fs.existsSync(path), "socket file removed")
          yield* Effect.scoped(
            Effect.gen(function* () {
              yield* Unix.listen({ path, mode: 0o660, removeOnClose: false })
              assert.strictEqual(fs.statSync(path).mode & 0o777, 0o660)
            }),
          )
          assert.isTrue(fs.lstatSync(path).isSocket(), "socket file kept with removeOnClose: false")
        }),
      ),
    )

    it.live("connect errors: ENOENT for a missing path, ECONNREFUSED for a stale file", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath()
          const e1 = yield* Effect.flip(Unix.connect({ path }))
          assert.strictEqual(e1._tag, "ConnectFailed")
          assert.strictEqual(e1._tag === "ConnectFailed" ? e1.attempts[0]?.code : "", "ENOENT")
          yield* Effect.scoped(Unix.listen({ path, removeOnClose: false }))
          const e2 = yield* Effect.flip(Unix.connect({ path }))
          assert.strictEqual(e2._tag === "ConnectFailed" ? e2.attempts[0]?.code : "", "ECONNREFUSED")
          const e3 = yield* Effect.flip(Unix.connect({ path: tempAbstractName() }))
          assert.strictEqual(e3._tag === "ConnectFailed" ? e3.attempts[0]?.code : "", "ECONNREFUSED")
        }),
      ),
    )

    it.live("bad addresses give InvalidArgument", () =>
      run(
        Effect.gen(function* () {
          assert.strictEqual((yield* Effect.flip(Unix.connect({ path: "" })))._tag, "InvalidArgument")
          assert.strictEqual((yield* Effect.flip(Unix.connect({ path: "a\0b" })))._tag, "InvalidArgument")
          assert.strictEqual(
            (yield* Effect.flip(Unix.connect({ path: `/tmp/${"x".repeat(200)}` })))._tag,
            "InvalidArgument",
          )
          assert.strictEqual(
            (yield* Effect.flip(Unix.listen({ path: "/tmp/x.sock", mode: 0o10000 })))._tag,
            "InvalidArgument",
          )
        }),
      ),
    )

    it.live("interop: Python AF_UNIX client ↔ netfx listener, netfx client ↔ Python listener", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath()
          const listener = yield* Unix.listen({ path })
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.gen(function* () {
                const name = text(yield* readAll(c))
                yield* c.send(bytes(`Hello, ${name}`))
              }),
            ),
          )
          const py = yield* python(
            `import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\ns.sendall(b"py")\ns.shutdown(socket.SHUT_WR)\nd=b""\nwhile True:\n  x=s.recv(100)\n  if not x: break\n  d+=x\nprint(d.decode(),flush=True)`,
            [path],
          )
          assert.strictEqual(py.firstLine, "Hello, py")

          const path2 = tempSocketPath()
          const server = yield* python(
            `import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(1)\nprint("ready",flush=True)\nc,_=s.accept()\nd=b""\nwhile True:\n  x=c.recv(100)\n  if not x: break\n  d+=x\nc.sendall(d.upper())\nc.close()`,
            [path2],
          )
          assert.strictEqual(server.firstLine, "ready")
          const conn = yield* Unix.connect({ path: path2 })
          yield* conn.send(bytes("netfx"))
          yield* conn.sendEof
          assert.strictEqual(text(yield* readAll(conn)), "NETFX")
        }),
      ),
    )

    it.live("a server that writes and closes at once: 300 connects read the whole greeting", () =>
      run(
        Effect.gen(function* () {
          const path = tempSocketPath()
          yield* python(
            `import socket,sys
s=socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(512)
print("ok",flush=True)
while True:
    c,_=s.accept()
    c.sendall(b"220 greeting from a hasty server")
    c.close()`,
            [path],
          )
          const failures: Array<string> = []
          for (let i = 0; i < 300; i++) {
            const got = yield* Effect.scoped(Effect.flatMap(Unix.connect({ path }), readAll)).pipe(
              Effect.map(text),
              Effect.catchAll((e) => Effect.succeed(`${e._tag}: ${e.message}`)),
            )
            if (got !== "220 greeting from a hasty server") failures.push(got)
          }
          assert.deepStrictEqual(failures, [])
        }),
      ),
    )

    it.live("abstract names interoperate with Python both ways (exact address length)", () =>
      run(
        Effect.gen(function* () {
          // Python listens, netfx connects
          const theirs = tempAbstractName("py")
          yield* python(
            `import socket,sys
s=socket.socket(socket.AF_UNIX)
s.bind("\\0"+sys.argv[1])
s.listen(5)
print("ok",flush=True)
c,_=s.accept()
c.sendall(b"from python")
c.shutdown(socket.SHUT_WR)
c.recv(1)`,
            [theirs.name],
          )
          const conn = yield* Unix.connect({ path: theirs })
          assert.strictEqual(text(yield* readAll(conn)), "from python")
          // netfx listens, Python connects
          const ours = tempAbstractName("fx")
          const listener = yield* Unix.listen({ path: ours })
          yield* Effect.forkScoped(listener.serve(echo))
          const peer = yield* python(
            `import socket,sys
c=socket.socket(socket.AF_UNIX)
c.connect("\\0"+sys.argv[1])
c.sendall(b"to netfx")
c.shutdown(socket.SHUT_WR)
out=b""
while True:
    d=c.recv(100)
    if not d: break
    out+=d
print(out.decode(),flush=True)`,
            [ours.name],
          )
          assert.strictEqual(peer.firstLine, "to netfx")
          // what Linux lists is the exact name, not one padded with NULs to 108 bytes
          const listed = fs.readFileSync("/proc/net/unix", "utf8")
          assert.include(listed, ` @${ours.name}\n`)
        }),
      ),
    )

    it.live("listening in a missing directory fails with ListenFailed ENOENT", () =>
      run(
        Effect.gen(function* () {
          const path = nodePath.join(nodePath.dirname(tempSocketPath()), "missing-dir", "s.sock")
          const error = yield* Effect.flip(Unix.listen({ path }))
          assert.strictEqual(error._tag, "ListenFailed")
          assert.strictEqual(error._tag === "ListenFailed" ? error.code : "", "ENOENT")
        }),
      ),
    )
  })
}
