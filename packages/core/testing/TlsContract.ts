/**
 * TLS contract tests: the byte-stream contract over TLS plus verification,
 * mutual TLS, ALPN, STARTTLS, close_notify policy, real OpenSSL and Python
 * peers and handshake interruption. Certificates are generated at load
 * time with the `openssl` CLI (see `certs.ts`) and deleted afterwards.
 *
 * @since 0.1.0
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Attribute from "../src/Attribute.ts"
import type { Listener } from "../src/Listener.ts"
import type { Network } from "../src/Network.ts"
import * as SocketAddress from "../src/SocketAddress.ts"
import type * as SocketStream from "../src/SocketStream.ts"
import * as Tcp from "../src/Tcp.ts"
import * as Tls from "../src/Tls.ts"
import * as Certs from "./certs.ts"
import { python } from "./peers.ts"
import {
  bytes,
  type ContractEnvironment,
  countingScope,
  echo,
  eventually,
  portOf,
  readAll,
  readN,
  type StreamTransport,
  streamContract,
  text,
} from "./StreamContract.ts"

/**
 * The TLS transport (a TLS listener on 127.0.0.1 with a certificate from
 * the test CA, clients verifying against that CA) for {@link streamContract}.
 * `standardCompatible` is set on both ends when given (`false` lets a
 * driver take a path without the close_notify check, which the byte-stream
 * contract must hold on as well).
 *
 * @since 0.1.0
 */
export const tlsTransport = (certs: Certs.TestCerts, standardCompatible?: boolean): StreamTransport => {
  const extra = standardCompatible === undefined ? {} : { standardCompatible }
  return {
    name:
      standardCompatible === undefined ? "TLS 127.0.0.1" : `TLS 127.0.0.1 (standardCompatible: ${standardCompatible})`,
    listen: Tcp.listen({
      host: "127.0.0.1",
      port: 0,
      tls: { cert: certs.server.cert, key: certs.server.key, ...extra },
    }),
    connect: (listener) =>
      Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address), tls: { ca: certs.ca.cert, ...extra } }),
    // A TLS peer that closes with data unread aborts without close_notify; the
    // reset may then arrive after its FIN, which reads as a missing close_notify.
    resetCodes: ["ECONNRESET", "EPIPE", "ERR_SSL_UNEXPECTED_EOF_WHILE_READING"],
    tls: true,
  }
}

/**
 * A child process (an `openssl` peer) yielding the first stdout line
 * matching `ready`; killed when the Scope closes.
 *
 * @since 0.1.0
 */
export const spawnPeer = (
  command: string,
  args: ReadonlyArray<string>,
  ready: RegExp,
): Effect.Effect<{ readonly match: RegExpMatchArray; readonly process: ChildProcess }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly match: RegExpMatchArray; readonly process: ChildProcess }>((resume) => {
      const child = spawn(command, args as Array<string>, { stdio: ["pipe", "pipe", "pipe"] })
      let done = false
      let err = ""
      child.stderr.on("data", (d: Buffer) => {
        err += d.toString()
      })
      createInterface({ input: child.stdout }).on("line", (line) => {
        const m = line.match(ready)
        if (!done && m !== null) {
          done = true
          resume(Effect.succeed({ match: m, process: child }))
        }
      })
      child.on("exit", (code) => {
        if (!done) resume(Effect.dieMessage(`${command} exited with ${code}: ${err}`))
      })
    }),
    ({ process }) =>
      Effect.async<void>((resume) => {
        if (process.exitCode !== null || process.signalCode !== null) return resume(Effect.void)
        process.once("exit", () => resume(Effect.void))
        process.kill("SIGKILL")
      }),
  )

/** Runs a command to completion with stdin and returns stdout (bounded by `timeout`). */
const runProcess = (command: string, args: ReadonlyArray<string>, input: string, timeoutMillis = 20_000) =>
  Effect.async<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = spawn(command, args as Array<string>, { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMillis)
    child.on("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    child.stdin.end(input)
    return Effect.sync(() => {
      clearTimeout(timer)
      child.kill("SIGKILL")
    })
  })

/**
 * An `openssl s_client` whose stdout can be awaited line by line; killed
 * (SIGKILL) when the Scope closes.
 */
const openSslClient = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn("openssl", ["s_client", ...args], { stdio: ["pipe", "pipe", "pipe"] })
      const lines: Array<string> = []
      const waiting: Array<{ readonly line: string; readonly resume: () => void }> = []
      createInterface({ input: child.stdout }).on("line", (line) => {
        lines.push(line)
        for (const w of waiting.filter((w) => w.line === line)) {
          waiting.splice(waiting.indexOf(w), 1)
          w.resume()
        }
      })
      child.stdin.on("error", () => {})
      /** Waits until s_client printed `line` (what the server sent, or its own reports). */
      const waitFor = (line: string) =>
        Effect.async<void>((resume) => {
          if (lines.includes(line)) return resume(Effect.void)
          waiting.push({ line, resume: () => resume(Effect.void) })
        })
      /** Waits until s_client exited (after a SIGKILL: once the kernel closed its socket). */
      const exited = Effect.async<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
      })
      return { process: child, waitFor, exited }
    }),
    ({ process, exited }) =>
      Effect.suspend(() => {
        if (process.exitCode === null && process.signalCode === null) process.kill("SIGKILL")
        return exited
      }),
  )

/** The TlsFailed code of a failed effect (or a description of what happened instead). */
const failureCode = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network>) =>
  Effect.map(Effect.either(Effect.scoped(effect)), (e) =>
    Either.isLeft(e)
      ? (e.left as { _tag?: string; code?: string })._tag === "TlsFailed"
        ? (e.left as { code: string }).code
        : `unexpected ${(e.left as { _tag?: string })._tag}`
      : "succeeded",
  )

const RAGGED_SERVER = `
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen()
print(ls.getsockname()[1], flush=True)
c, _ = ls.accept()
s = ctx.wrap_socket(c, server_side=True)
s.sendall(b"hi")
if sys.argv[3] == "clean": s.unwrap()
s.close()
`

const RAGGED_CLIENT = `
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[1])
c = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
s = ctx.wrap_socket(c, server_hostname="localhost")
s.sendall(b"hi")
# read the reply first: it comes after the TLS 1.3 session tickets, so none is
# left unread when we close (unread input would make the kernel send a reset)
assert s.recv(2) == b"ok"
if sys.argv[3] == "clean": s.unwrap()
s.close()
print("done", flush=True)
`

/**
 * The environment of {@link tlsContract}.
 *
 * @since 0.1.0
 */
export interface TlsEnvironment extends ContractEnvironment {
  /**
   * What the runtime's TLS cannot do (each defaults to `true`). A `false`
   * turns the matching test into a check of the documented fallback.
   */
  readonly tlsLimits?: {
    /** Tells a missing close_notify apart; `false`: a ragged EOF reads as EndOfStream even with standardCompatible. */
    readonly raggedEof?: boolean
    /** SNI credential choice on listeners; `false`: such a listener's handshakes fail with TlsFailed. */
    readonly sni?: boolean
    /** `Tls.wrap` hands bytes read ahead to TLS; `false`: that case is not tested. */
    readonly readAheadHandOver?: boolean
  }
}

/**
 * Registers the TLS contract for one environment.
 *
 * @since 0.1.0
 */
export const tlsContract = (env: TlsEnvironment): void => {
  const limits = env.tlsLimits ?? {}
  const certs = Certs.generate()
  afterAll(() => Certs.remove(certs))
  streamContract(env, tlsTransport(certs))
  streamContract(env, tlsTransport(certs, false))

  const run = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network>) =>
    effect.pipe(Effect.scoped, Effect.provide(env.layer))

  const server = (options: Partial<Tls.TlsServerOptions> = {}) =>
    Tcp.listen({ host: "127.0.0.1", port: 0, tls: { cert: certs.server.cert, key: certs.server.key, ...options } })

  /** A TLS listener capturing, for each log line that contains `match`, the value of `annotation`. */
  const loggingServer = (options: Partial<Tls.TlsServerOptions>, match: string, annotation: string) =>
    Effect.gen(function* () {
      const captured: Array<string> = []
      const capture = Logger.make(({ annotations, message }) => {
        const line = Array.isArray(message) ? message.join(" ") : String(message)
        if (line.includes(match))
          captured.push(String(HashMap.get(annotations, annotation).pipe(Option.getOrElse(() => "?"))))
      })
      const listener = yield* server(options).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      return { listener, captured }
    })

  const client = (listener: Listener, tls: Tls.TlsClientOptions | true = { ca: certs.ca.cert }) =>
    Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address), tls })

  /** `openssl s_client` arguments to connect to a listener, verifying it against the test CA. */
  const sClientTo = (listener: Listener) => [
    "-connect",
    `127.0.0.1:${portOf(listener.address)}`,
    "-servername",
    "localhost",
    "-CAfile",
    certs.ca.certFile,
    "-verify_return_error",
  ]

  /** An `openssl s_server -rev` (answers each line reversed; CLOSE ends with close_notify) and a netfx client of it. */
  const revServer = Effect.gen(function* () {
    const peer = yield* spawnPeer(
      "openssl",
      [
        "s_server",
        "-accept",
        "127.0.0.1:0",
        "-cert",
        certs.server.certFile,
        "-key",
        certs.server.keyFile,
        "-rev",
        "-naccept",
        "1",
      ],
      /^ACCEPT .*:(\d+)$/,
    )
    const conn = yield* Tcp.connect({
      host: "127.0.0.1",
      port: Number(peer.match[1]),
      tls: { ca: certs.ca.cert, serverName: "localhost" },
    })
    return { peer, conn }
  })

  describe(`TLS contract on ${env.name}`, () => {
    it.live("round trip verified against the test CA, with session facts on both ends", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server()
          const seen = yield* Deferred.make<Tls.TlsInfo>()
          yield* Effect.forkScoped(
            listener.serve((c) => Effect.zipRight(Deferred.succeed(seen, Option.getOrThrow(Tls.info(c))), echo(c))),
          )
          const conn = yield* client(listener, { ca: certs.ca.cert, serverName: "localhost" })
          yield* conn.send(bytes("secret"))
          yield* conn.sendEof
          assert.strictEqual(text(yield* readAll(conn)), "secret")
          const mine = Option.getOrThrow(Tls.info(conn))
          assert.isFalse(mine.serverSide)
          assert.isTrue(mine.authorized)
          assert.deepStrictEqual(mine.serverName, Option.some("localhost"))
          assert.include(["TLSv1.2", "TLSv1.3"], mine.version)
          assert.isTrue(mine.cipher.name.length > 0)
          const cert = Option.getOrThrow(mine.peerCertificate)
          assert.strictEqual(cert.subject.CN, "localhost")
          assert.strictEqual(cert.issuer.CN, "netfx test CA")
          assert.include(cert.subjectAltNames, "DNS:localhost")
          assert.isTrue(cert.der.length > 100 && cert.der[0] === 0x30)
          assert.isTrue(cert.validTo.getTime() > Date.now())
          const theirs = yield* Deferred.await(seen)
          assert.isTrue(theirs.serverSide)
          assert.deepStrictEqual(theirs.serverName, Option.some("localhost"))
          assert.isTrue(Option.isNone(theirs.peerCertificate))
          assert.strictEqual(theirs.version, mine.version)
          // the same facts through typed attributes
          assert.strictEqual(Option.getOrThrow(conn.attribute(Tls.PeerCertificate)).subject.CN, "localhost")
          assert.deepStrictEqual(conn.attribute(Tls.Version), Option.some(mine.version))
          assert.deepStrictEqual(conn.attribute(Tls.Cipher), Option.some(mine.cipher))
          assert.deepStrictEqual(conn.attribute(Tls.ServerName), Option.some("localhost"))
          assert.deepStrictEqual(conn.attribute(Tls.Authorized), Option.some(true))
          assert.isTrue(Option.isNone(conn.attribute(Tls.AlpnProtocol)))
          assert.deepStrictEqual(conn.attribute(Attribute.RemoteAddress), Option.some(conn.remoteAddress))
          assert.deepStrictEqual(conn.attribute(Attribute.RemotePort), Option.some(portOf(listener.address)))
        }),
      ),
    )

    it.live("a certificate for another name fails with ERR_TLS_CERT_ALTNAME_INVALID and the peer address", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server()
          yield* Effect.forkScoped(listener.serve(echo))
          const result = yield* Effect.either(
            Effect.scoped(client(listener, { ca: certs.ca.cert, serverName: "wrong.invalid" })),
          )
          assert.isTrue(Either.isLeft(result))
          if (Either.isLeft(result)) {
            assert.strictEqual(result.left._tag, "TlsFailed")
            if (result.left._tag === "TlsFailed") {
              assert.strictEqual(result.left.code, "ERR_TLS_CERT_ALTNAME_INVALID")
              assert.deepStrictEqual(result.left.address, listener.address)
            }
          }
        }),
      ),
    )

    it.live("a self-signed certificate fails without its CA and succeeds with it", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server({ cert: certs.selfSigned.cert, key: certs.selfSigned.key })
          yield* Effect.forkScoped(listener.serve(echo))
          assert.strictEqual(yield* failureCode(client(listener, true)), "DEPTH_ZERO_SELF_SIGNED_CERT")
          assert.strictEqual(yield* failureCode(client(listener, { ca: certs.ca.cert })), "DEPTH_ZERO_SELF_SIGNED_CERT")
          const conn = yield* client(listener, { ca: certs.selfSigned.cert })
          yield* conn.send(bytes("ok"))
          assert.strictEqual(text(yield* readN(conn, 2)), "ok")
        }),
      ),
    )

    it.live("a failed handshake leaves nothing in the caller's Scope (a retry loop accumulates nothing)", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server({ cert: certs.selfSigned.cert, key: certs.selfSigned.key })
          yield* Effect.forkScoped(listener.serve(echo))
          const { scope, outer, live } = yield* countingScope
          for (let i = 0; i < 10; i++) {
            const error = yield* Effect.flip(Scope.extend(client(listener, { ca: certs.ca.cert }), scope))
            assert.strictEqual(error._tag, "TlsFailed")
          }
          assert.strictEqual(live(), 0)
          // a connect that succeeds is held by the Scope until it closes
          yield* Scope.extend(client(listener, { ca: certs.selfSigned.cert }), scope)
          assert.isAbove(live(), 0)
          yield* Scope.close(outer, Exit.void)
          assert.strictEqual(live(), 0)
        }),
      ),
    )

    it.live("client credentials that cannot be parsed fail the connect with TlsFailed, leaving nothing open", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server()
          yield* Effect.forkScoped(listener.serve(echo))
          yield* Effect.scoped(client(listener))
          const baseline = env.openFds?.()
          const { scope, outer, live } = yield* countingScope
          const bad = { ca: certs.ca.cert, cert: "not a certificate", key: "not a key" }
          for (let i = 0; i < 3; i++) {
            const error = yield* Effect.flip(Scope.extend(client(listener, bad), scope))
            assert.strictEqual(error._tag, "TlsFailed")
          }
          assert.strictEqual(live(), 0)
          yield* Scope.close(outer, Exit.void)
          if (baseline !== undefined && env.openFds !== undefined) {
            const openFds = env.openFds
            yield* eventually(() => openFds() <= baseline, `descriptors back to ${baseline} (now ${openFds()})`)
          }
        }),
      ),
    )

    it.live("failures carry the short reason and a hint: untrusted certificate, a peer not speaking TLS", () =>
      run(
        Effect.gen(function* () {
          const failure = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Network>) =>
            Effect.flip(Effect.scoped(effect)).pipe(
              Effect.map((e) => e as { _tag?: string; code?: string; reason?: string; message?: string }),
            )
          const selfSigned = yield* server({ cert: certs.selfSigned.cert, key: certs.selfSigned.key })
          yield* Effect.forkScoped(selfSigned.serve(echo))
          const untrusted = yield* failure(client(selfSigned, true))
          assert.strictEqual(untrusted._tag, "TlsFailed")
          assert.strictEqual(untrusted.code, "DEPTH_ZERO_SELF_SIGNED_CERT")
          assert.include(untrusted.message, "pass that CA (PEM) in tls.ca")
          // a plaintext server that greets first (SMTP-like): its bytes are no TLS record
          const plain = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          yield* Effect.forkScoped(
            plain.serve((conn) =>
              Effect.zipRight(conn.send(bytes("220 plaintext greeting\r\n")), Effect.either(conn.receive())),
            ),
          )
          const notTls = yield* failure(client(plain))
          assert.strictEqual(notTls._tag, "TlsFailed")
          assert.include(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG"], notTls.code)
          assert.include(["wrong version number", "packet length too long"], notTls.reason)
          assert.include(notTls.message, "is the peer speaking TLS")
          // OpenSSL's error-line framing (queue id, function, source file) is not passed on
          assert.notMatch(notTls.message ?? "", /error:[0-9A-Fa-f]+:|\.c:\d+/)
        }),
      ),
    )

    it.live("an expired certificate fails with CERT_HAS_EXPIRED", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server({ cert: certs.expired.cert, key: certs.expired.key })
          yield* Effect.forkScoped(listener.serve(echo))
          assert.strictEqual(yield* failureCode(client(listener)), "CERT_HAS_EXPIRED")
        }),
      ),
    )

    it.live(
      "an encrypted server key is used with its passphrase; a wrong passphrase fails to listen or handshake",
      () =>
        run(
          Effect.gen(function* () {
            const listener = yield* server({ key: certs.serverEncryptedKey, passphrase: Certs.PASSPHRASE })
            yield* Effect.forkScoped(listener.serve(echo))
            const conn = yield* client(listener)
            yield* conn.send(bytes("pw"))
            assert.strictEqual(text(yield* readN(conn, 2)), "pw")
            const wrong = yield* Effect.either(
              Effect.scoped(
                Effect.gen(function* () {
                  const l = yield* server({ key: certs.serverEncryptedKey, passphrase: "wrong" })
                  yield* Effect.forkScoped(l.serve(echo))
                  return yield* Effect.scoped(client(l))
                }),
              ),
            )
            assert.isTrue(Either.isLeft(wrong), "a wrong passphrase cannot serve TLS")
          }),
        ),
    )

    it.live("minVersion: a TLS 1.3-only client refuses a TLS 1.2-only server with TlsFailed", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server({ maxVersion: "TLSv1.2" })
          yield* Effect.forkScoped(listener.serve(echo))
          const refused = yield* Effect.flip(
            Effect.scoped(client(listener, { ca: certs.ca.cert, minVersion: "TLSv1.3" })),
          )
          assert.strictEqual(refused._tag, "TlsFailed")
        }),
      ),
    )

    it.live("a connection beyond maxHandshakes closes the oldest pending handshake, not itself", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server({ maxHandshakes: 2 })
          yield* Effect.forkScoped(listener.serve(echo))
          const port = portOf(listener.address)
          // three silent clients: the third takes the slot of the first (the oldest)
          const first = yield* Tcp.connect({ host: "127.0.0.1", port })
          const second = yield* Tcp.connect({ host: "127.0.0.1", port })
          const endOfSecond = yield* Effect.fork(Effect.flip(second.receive()))
          const third = yield* Tcp.connect({ host: "127.0.0.1", port })
          const endOfThird = yield* Effect.fork(Effect.flip(third.receive()))
          assert.include(["EndOfStream", "BrokenResource"], (yield* Effect.flip(first.receive()))._tag)
          // a TLS client now evicts the second, and is served
          const conn = yield* client(listener)
          yield* conn.send(bytes("ok"))
          assert.strictEqual(text(yield* readN(conn, 2)), "ok")
          assert.include(["EndOfStream", "BrokenResource"], (yield* Fiber.join(endOfSecond))._tag)
          // the third still holds its slot (handshake timeout 10 s by default)
          assert.isTrue(Option.isNone(yield* Fiber.poll(endOfThird)), "the newest pending handshake stays")
        }),
      ),
    )

    it.live("a flood of idle connections does not shut healthy TLS clients out", () =>
      run(
        Effect.gen(function* () {
          // a small cap keeps the test cheap; the default (1024) behaves the same at scale
          const maxHandshakes = 16
          const { listener, captured: warnings } = yield* loggingServer(
            { maxHandshakes },
            "too many TLS handshakes",
            "limit",
          )
          const served = yield* Ref.make(0)
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.zipRight(
                Ref.update(served, (n) => n + 1),
                echo(c),
              ),
            ),
          )
          const port = portOf(listener.address)
          // 200 TCP connections that never send a ClientHello, held open
          const floodSize = 200
          let floodEnded = 0
          for (let i = 0; i < floodSize; i++) {
            const idle = yield* Tcp.connect({ host: "127.0.0.1", port })
            yield* Effect.forkScoped(
              Effect.ensuring(
                Effect.ignore(idle.receive()),
                Effect.sync(() => {
                  floodEnded++
                }),
              ),
            )
          }
          // healthy clients arriving during the flood are all served
          const healthy = 10
          for (let i = 0; i < healthy; i++) {
            yield* Effect.scoped(
              Effect.gen(function* () {
                const conn = yield* client(listener)
                yield* conn.send(bytes(`client ${i}`))
                assert.strictEqual(text(yield* readN(conn, `client ${i}`.length)), `client ${i}`)
              }),
            )
          }
          assert.strictEqual(yield* Ref.get(served), healthy)
          // the flood holds at most maxHandshakes slots: the server closed the rest
          yield* eventually(
            () => floodEnded >= floodSize - maxHandshakes,
            `the server closed at least ${floodSize - maxHandshakes} idle connections (closed ${floodEnded})`,
          )
          assert.isTrue(warnings.length >= 1 && warnings.length < 5, `rate-limited warnings: ${warnings.length}`)
          assert.strictEqual(warnings[0], String(maxHandshakes))
        }),
      ),
    )

    it.live("bad handshake limits are a typed InvalidArgument at listen time", () =>
      run(
        Effect.gen(function* () {
          for (const bad of [
            { maxHandshakes: 0 },
            { maxHandshakes: 1.5 },
            { handshakeTimeout: 0 },
            { handshakeTimeout: Number.NaN },
          ]) {
            const error = yield* Effect.flip(server(bad))
            assert.strictEqual(error._tag, "InvalidArgument", JSON.stringify(bad))
            if (error._tag === "InvalidArgument") assert.strictEqual(error.argument, `tls.${Object.keys(bad)[0]}`)
          }
        }),
      ),
    )

    it.live("a file path given as cert, key or ca fails before any socket opens, naming the option", () =>
      run(
        Effect.gen(function* () {
          // listen: InvalidArgument (like the other listen-time TLS checks), never a listener whose handshakes all fail
          for (const bad of [
            { cert: certs.server.certFile },
            { key: certs.server.keyFile },
            { ca: certs.ca.certFile, requestCert: true },
            { cert: [certs.server.cert, "./chain.pem"] },
          ]) {
            const error = yield* Effect.flip(server(bad))
            assert.strictEqual(error._tag, "InvalidArgument", JSON.stringify(bad))
            if (error._tag === "InvalidArgument") {
              assert.strictEqual(error.argument, `tls.${Object.keys(bad)[0]}`)
              assert.include(error.message, "looks like a file path")
              if (error.argument === "tls.key") assert.isUndefined(error.value)
            }
          }
          // connect: TlsFailed (as for other unparseable client credentials); a path as ca was ignored before
          const listener = yield* server()
          yield* Effect.forkScoped(listener.serve(echo))
          for (const bad of [
            { ca: certs.ca.certFile },
            { ca: certs.ca.cert, cert: certs.client.certFile, key: certs.client.key },
            { ca: certs.ca.cert, cert: certs.client.cert, key: new TextEncoder().encode("not a key") },
          ]) {
            const error = yield* Effect.flip(Effect.scoped(client(listener, bad)))
            assert.strictEqual(error._tag, "TlsFailed")
            if (error._tag === "TlsFailed") {
              assert.strictEqual(error.code, "ERR_OSSL_PEM_NO_START_LINE")
              assert.match(error.message, /tls\.(ca|cert|key) is not PEM/)
            }
          }
        }),
      ),
    )

    it.live("rejectUnauthorized: false accepts an unverified peer and reports it", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server({ cert: certs.selfSigned.cert, key: certs.selfSigned.key })
          yield* Effect.forkScoped(listener.serve(echo))
          const conn = yield* client(listener, { rejectUnauthorized: false })
          assert.isFalse(Option.getOrThrow(Tls.info(conn)).authorized)
          yield* conn.send(bytes("x"))
          assert.strictEqual(text(yield* readN(conn, 1)), "x")
        }),
      ),
    )

    it.live("mTLS: a client without a certificate is rejected, one with it is accepted; the server survives", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server({ requestCert: true, ca: certs.ca.cert })
          const handled = yield* Ref.make<Array<string>>([])
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.gen(function* () {
                const peer = Option.getOrThrow(Option.flatMap(Tls.info(c), (i) => i.peerCertificate))
                yield* Ref.update(handled, (list) => [...list, peer.subject.CN ?? ""])
                yield* echo(c)
              }),
            ),
          )
          // Without a certificate: TLS 1.3 clients finish their handshake before the
          // server judges the certificate, so the refusal shows either at connect
          // (TlsFailed) or at the first receive (BrokenResource), never as data.
          const anonymous = yield* Effect.either(
            Effect.scoped(
              Effect.gen(function* () {
                const conn = yield* client(listener)
                yield* conn.send(bytes("let me in"))
                return yield* conn.receive()
              }),
            ),
          )
          assert.isTrue(Either.isLeft(anonymous), "the anonymous client must not get data")
          if (Either.isLeft(anonymous))
            assert.include(["TlsFailed", "BrokenResource", "EndOfStream"], anonymous.left._tag)
          const conn = yield* client(listener, { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key })
          yield* conn.send(bytes("hello"))
          assert.strictEqual(text(yield* readN(conn, 5)), "hello")
          assert.deepStrictEqual(yield* Ref.get(handled), ["netfx test client"])
        }),
      ),
    )

    // The client certificates a listener trusting only `ca` must refuse (each with the
    // clientAuth purpose, so its issuer or expiry is the only fault), and no certificate.
    const untrustedClients = [
      { name: "a self-signed", creds: { cert: certs.clientSelfSigned.cert, key: certs.clientSelfSigned.key } },
      { name: "another CA's", creds: { cert: certs.clientOtherCa.cert, key: certs.clientOtherCa.key } },
      { name: "an expired", creds: { cert: certs.clientExpired.cert, key: certs.clientExpired.key } },
      { name: "no", creds: {} },
    ] as const

    /** Connects, sends and reads: an untrusted client must never get data back. */
    const untrustedAttempt = (port: number, creds: Partial<Tls.TlsCredentials>) =>
      Effect.either(
        Effect.scoped(
          Effect.gen(function* () {
            const conn = yield* Tcp.connect({ host: "127.0.0.1", port, tls: { ca: certs.ca.cert, ...creds } })
            yield* conn.send(bytes("let me in"))
            return yield* conn.receive()
          }),
        ),
      )

    const modes = ["serve", "accept", "incoming", ...(limits.sni === false ? [] : ["serve, SNI listener"])] as const
    for (const mode of modes) {
      it.live(`mTLS: untrusted client certificates never reach ${mode} (rejectUnauthorized by default)`, () =>
        run(
          Effect.gen(function* () {
            const { listener, captured: rejected } = yield* loggingServer(
              {
                requestCert: true,
                ca: certs.ca.cert,
                // an SNI listener takes another path on some runtimes (Bun: the relay)
                ...(mode === "serve, SNI listener"
                  ? { sniContexts: { "*.invalid": { cert: certs.other.cert, key: certs.other.key } } }
                  : {}),
              },
              "TLS handshake failed",
              "code",
            )
            const reached: Array<string> = []
            const handle = (c: SocketStream.SocketStream) =>
              Effect.gen(function* () {
                const info = Option.getOrThrow(Tls.info(c))
                const cn = Option.match(info.peerCertificate, { onNone: () => "none", onSome: (p) => p.subject.CN })
                reached.push(`${cn} authorized=${info.authorized}`)
                yield* echo(c)
              })
            if (mode === "serve" || mode === "serve, SNI listener") yield* Effect.forkScoped(listener.serve(handle))
            else if (mode === "accept")
              yield* Effect.forkScoped(
                Effect.forever(Effect.flatMap(listener.accept, (c) => Effect.forkScoped(Effect.ignore(handle(c))))),
              )
            else
              yield* Effect.forkScoped(
                Stream.runForEach(listener.incoming, (c) => Effect.forkDaemon(Effect.scoped(Effect.ignore(handle(c))))),
              )
            const port = portOf(listener.address)
            for (const [i, untrusted] of untrustedClients.entries()) {
              const attempt = yield* untrustedAttempt(port, untrusted.creds)
              assert.isTrue(Either.isLeft(attempt), `${untrusted.name} certificate: the client must not get data`)
              // the server has judged the handshake once it logged a refusal (or, the
              // defect, handed the connection on): wait for either
              yield* eventually(
                () => rejected.length + reached.length > i,
                `${untrusted.name} certificate: refused or handled`,
              )
              assert.deepStrictEqual(reached, [], `${untrusted.name} certificate reached ${mode}`)
            }
            assert.strictEqual(rejected.length, untrustedClients.length)
            // a trusted client is still served, and verified
            const conn = yield* client(listener, { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key })
            yield* conn.send(bytes("hello"))
            assert.strictEqual(text(yield* readN(conn, 5)), "hello")
            assert.deepStrictEqual(reached, ["netfx test client authorized=true"])
          }),
        ),
      )
    }

    it.live("mTLS with rejectUnauthorized: false hands untrusted clients on, marked unauthorized", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server({ requestCert: true, ca: certs.ca.cert, rejectUnauthorized: false })
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.gen(function* () {
                const info = Option.getOrThrow(Tls.info(c))
                const cn = Option.match(info.peerCertificate, { onNone: () => "none", onSome: (p) => p.subject.CN })
                yield* readN(c, 1)
                yield* c.send(bytes(`${cn} authorized=${info.authorized}`))
                yield* c.sendEof
              }),
            ),
          )
          const seen = (creds: Partial<Tls.TlsCredentials>) =>
            Effect.scoped(
              Effect.gen(function* () {
                const conn = yield* client(listener, { ca: certs.ca.cert, ...creds })
                yield* conn.send(bytes("?"))
                return text(yield* readAll(conn))
              }),
            )
          assert.strictEqual(
            yield* seen({ cert: certs.clientSelfSigned.cert, key: certs.clientSelfSigned.key }),
            "netfx self-signed client authorized=false",
          )
          assert.strictEqual(yield* seen({}), "none authorized=false")
          assert.strictEqual(
            yield* seen({ cert: certs.client.cert, key: certs.client.key }),
            "netfx test client authorized=true",
          )
        }),
      ),
    )

    it.live("mTLS under STARTTLS: a server-side Tls.wrap refuses untrusted client certificates", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const outcomes: Array<string> = []
          yield* Effect.forkScoped(
            listener.serve((plain) =>
              Effect.gen(function* () {
                // scoped: a refused handshake's connection closes when the wrap's Scope does
                const wrapped = yield* Effect.either(
                  Tls.wrap(plain, {
                    side: "server",
                    cert: certs.server.cert,
                    key: certs.server.key,
                    requestCert: true,
                    ca: certs.ca.cert,
                  }),
                )
                if (Either.isLeft(wrapped)) {
                  outcomes.push(wrapped.left._tag)
                  return
                }
                const info = Option.getOrThrow(Tls.info(wrapped.right))
                outcomes.push(`reached authorized=${info.authorized}`)
                yield* echo(wrapped.right)
              }).pipe(Effect.scoped),
            ),
          )
          const port = portOf(listener.address)
          const attempt = (creds: Partial<Tls.TlsCredentials>) =>
            Effect.either(
              Effect.scoped(
                Effect.gen(function* () {
                  const plain = yield* Tcp.connect({ host: "127.0.0.1", port })
                  const secure = yield* Tls.wrap(plain, {
                    side: "client",
                    host: "localhost",
                    ca: certs.ca.cert,
                    ...creds,
                  })
                  yield* secure.send(bytes("let me in"))
                  return text(yield* readN(secure, 9))
                }),
              ),
            )
          for (const [i, untrusted] of untrustedClients.entries()) {
            const result = yield* attempt(untrusted.creds)
            assert.isTrue(Either.isLeft(result), `${untrusted.name} certificate: the client must not get data`)
            yield* eventually(() => outcomes.length > i, `${untrusted.name} certificate: the server's wrap ended`)
            assert.strictEqual(outcomes[i], "TlsFailed", `${untrusted.name} certificate`)
          }
          const trusted = yield* attempt({ cert: certs.client.cert, key: certs.client.key })
          assert.deepStrictEqual(trusted, Either.right("let me in"))
          assert.strictEqual(outcomes[untrustedClients.length], "reached authorized=true")
        }),
      ),
    )

    it.live("ALPN: the negotiated protocol is visible on both ends", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server({ alpnProtocols: ["h2", "http/1.1"] })
          const seen = yield* Deferred.make<Option.Option<string>>()
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.zipRight(
                Deferred.succeed(
                  seen,
                  Option.flatMap(Tls.info(c), (i) => i.alpnProtocol),
                ),
                echo(c),
              ),
            ),
          )
          const conn = yield* client(listener, { ca: certs.ca.cert, alpnProtocols: ["http/1.1", "spdy/1"] })
          assert.deepStrictEqual(
            Option.flatMap(Tls.info(conn), (i) => i.alpnProtocol),
            Option.some("http/1.1"),
          )
          assert.deepStrictEqual(yield* Deferred.await(seen), Option.some("http/1.1"))
        }),
      ),
    )

    it.live("SNI: per-name credentials (sniContexts) and a callback choose the server certificate", () =>
      run(
        Effect.gen(function* () {
          if (limits.sni === false) {
            // the documented fallback: such a listener refuses the handshake, typed
            const listener = yield* server({
              sniContexts: { "*.invalid": { cert: certs.other.cert, key: certs.other.key } },
            })
            yield* Effect.forkScoped(listener.serve(echo))
            const refused = yield* Effect.either(
              Effect.scoped(client(listener, { ca: certs.ca.cert, serverName: "other.invalid" })),
            )
            assert.isTrue(Either.isLeft(refused) && refused.left._tag === "TlsFailed")
            return
          }
          const other = { cert: certs.other.cert, key: certs.other.key }
          const byName = yield* server({ sniContexts: { "*.invalid": other } })
          const byCallback = yield* server({ sniCallback: (name) => (name === "other.invalid" ? other : undefined) })
          for (const listener of [byName, byCallback]) {
            yield* Effect.forkScoped(listener.serve(echo))
            const subjectFor = (serverName: string) =>
              Effect.scoped(
                Effect.map(
                  client(listener, { ca: certs.ca.cert, serverName }),
                  (conn) => Option.getOrThrow(Option.flatMap(Tls.info(conn), (i) => i.peerCertificate)).subject.CN,
                ),
              )
            assert.strictEqual(yield* subjectFor("other.invalid"), "other.invalid")
            assert.strictEqual(yield* subjectFor("localhost"), "localhost")
          }
        }),
      ),
    )

    if (limits.sni !== false) {
      it.live("SNI: a non-ASCII server name goes out in its IDNA (punycode) form", () =>
        run(
          Effect.gen(function* () {
            const seen = yield* Deferred.make<string>()
            const listener = yield* server({
              sniCallback: (name) => {
                Deferred.unsafeDone(seen, Effect.succeed(name))
                return undefined
              },
            })
            yield* Effect.forkScoped(listener.serve(echo))
            // the certificate does not carry this name: only the SNI is under test
            const conn = yield* client(listener, { serverName: "bücher.invalid", rejectUnauthorized: false })
            assert.strictEqual(yield* Deferred.await(seen), "xn--bcher-kva.invalid")
            assert.deepStrictEqual(
              Option.flatMap(Tls.info(conn), (i) => i.serverName),
              Option.some("xn--bcher-kva.invalid"),
            )
          }),
        ),
      )
    }

    if (limits.sni !== false) {
      it.live("SNI: sniContexts keys written in Unicode match the punycode name a client sends", () =>
        run(
          Effect.gen(function* () {
            const other = { cert: certs.other.cert, key: certs.other.key }
            const listener = yield* server({ sniContexts: { "Bücher.invalid.": other, "*.straße.invalid": other } })
            yield* Effect.forkScoped(listener.serve(echo))
            // the certificate does not carry these names: which one is presented is under test
            const subjectFor = (serverName: string) =>
              Effect.scoped(
                Effect.gen(function* () {
                  const conn = yield* client(listener, { serverName, rejectUnauthorized: false })
                  const info = Option.getOrThrow(Tls.info(conn))
                  return Option.getOrThrow(info.peerCertificate).subject.CN
                }),
              )
            assert.strictEqual(yield* subjectFor("xn--bcher-kva.invalid"), "other.invalid")
            assert.strictEqual(yield* subjectFor("XN--BCHER-KVA.INVALID"), "other.invalid")
            assert.strictEqual(yield* subjectFor("bücher.invalid"), "other.invalid")
            assert.strictEqual(yield* subjectFor("www.xn--strae-oqa.invalid"), "other.invalid")
            // one label only, and other names get the default certificate
            assert.strictEqual(yield* subjectFor("a.www.xn--strae-oqa.invalid"), "localhost")
            assert.strictEqual(yield* subjectFor("buecher.invalid"), "localhost")
          }),
        ),
      )
    }

    it.live("SNI: an sniContexts key that is not a host name is an InvalidArgument at listen time and in wrap", () =>
      run(
        Effect.gen(function* () {
          const other = { cert: certs.other.cert, key: certs.other.key }
          for (const key of ["xn--zz.invalid", "a.*.invalid", "*", "bad name.invalid", "a\u200db.invalid", ""]) {
            const error = yield* Effect.flip(server({ sniContexts: { "ok.invalid": other, [key]: other } }))
            assert.strictEqual(error._tag, "InvalidArgument", key)
            if (error._tag === "InvalidArgument") {
              assert.strictEqual(error.argument, "tls.sniContexts")
              assert.strictEqual(error.value, key)
            }
          }
          const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const plain = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) })
          const wrapped = yield* Effect.flip(
            Tls.wrap(plain, {
              side: "server",
              cert: certs.server.cert,
              key: certs.server.key,
              sniContexts: { "xn--zz.invalid": other },
            }),
          )
          assert.strictEqual(wrapped._tag, "InvalidArgument")
          // refused before the upgrade: the plain stream is still usable
          yield* plain.send(bytes("still plain"))
        }),
      ),
    )

    const startTls = (options: { readonly waitForGo: boolean }) =>
      run(
        Effect.gen(function* () {
          const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const serverSaw = yield* Deferred.make<string>()
          yield* Effect.forkScoped(
            listener.serve((plain) =>
              Effect.gen(function* () {
                yield* plain.send(bytes("220 ready\n"))
                // Read exactly the command: without the "GO" round trip the client's
                // ClientHello may already be read ahead behind it, and wrap hands
                // those bytes to TLS.
                const command = text(yield* readN(plain, "STARTTLS\n".length))
                assert.strictEqual(command, "STARTTLS\n")
                if (options.waitForGo) yield* plain.send(bytes("GO\n"))
                const secure = yield* Tls.wrap(plain, {
                  side: "server",
                  cert: certs.server.cert,
                  key: certs.server.key,
                })
                const old = yield* Effect.flip(plain.receive())
                assert.strictEqual(old._tag, "ClosedResource", "the old stream is consumed")
                const line = text(yield* readN(secure, 6))
                yield* Deferred.succeed(serverSaw, line)
                yield* secure.send(bytes(`echo:${line}`))
                yield* secure.sendEof
              }).pipe(Effect.orDie),
            ),
          )
          const plain = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) })
          assert.strictEqual(text(yield* readN(plain, 10)), "220 ready\n")
          yield* plain.send(bytes("STARTTLS\n"))
          if (options.waitForGo) assert.strictEqual(text(yield* readN(plain, 3)), "GO\n")
          const secure = yield* Tls.wrap(plain, { side: "client", host: "localhost", ca: certs.ca.cert })
          assert.isFalse(Option.getOrThrow(Tls.info(secure)).serverSide)
          yield* secure.send(bytes("secret"))
          assert.strictEqual(text(yield* readAll(secure)), "echo:secret")
          assert.strictEqual(yield* Deferred.await(serverSaw), "secret")
          // the plain stream was consumed by the upgrade
          const again = yield* Effect.flip(Effect.scoped(Tls.wrap(plain, { side: "client" })))
          assert.strictEqual(again._tag, "InvalidArgument")
        }),
      )

    it.live("STARTTLS: plaintext greeting, upgrade on both sides, encrypted exchange", () =>
      startTls({ waitForGo: true }),
    )

    if (limits.readAheadHandOver !== false) {
      it.live("STARTTLS: a ClientHello read ahead behind the command is handed over to TLS", () =>
        startTls({ waitForGo: false }),
      )
    }

    it.live("interrupting a STARTTLS handshake closes the connection", () =>
      run(
        Effect.gen(function* () {
          // a plaintext server that never answers the ClientHello
          const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const serverEnd = yield* Deferred.make<string>()
          const helloSeen = yield* Deferred.make<void>()
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.gen(function* () {
                // drain the ClientHello until the client goes away
                while (true) {
                  const r = yield* Effect.either(c.receive())
                  if (Either.isLeft(r)) return yield* Deferred.succeed(serverEnd, r.left._tag)
                  yield* Deferred.succeed(helloSeen, undefined)
                }
              }),
            ),
          )
          const plain = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) })
          const fiber = yield* Effect.fork(Effect.scoped(Tls.wrap(plain, { side: "client", host: "localhost" })))
          // the handshake is under way once the server has the ClientHello
          yield* Deferred.await(helloSeen)
          yield* Fiber.interrupt(fiber)
          assert.include(["EndOfStream", "BrokenResource"], yield* Deferred.await(serverEnd))
        }),
      ),
    )

    it.live("Tcp.withConnection with tls sends close_notify when use ends, however it ends", () =>
      run(
        Effect.gen(function* () {
          // the server is standardCompatible (the default): an EOF without close_notify fails its read
          const listener = yield* server()
          for (const outcome of ["succeed", "fail", "die"] as const) {
            const exit = yield* Effect.exit(
              Tcp.withConnection(
                { host: "127.0.0.1", port: portOf(listener.address), tls: { ca: certs.ca.cert } },
                (conn) =>
                  Effect.zipRight(
                    conn.send(bytes(outcome)),
                    outcome === "fail"
                      ? Effect.fail("use failed" as const)
                      : outcome === "die"
                        ? Effect.dieMessage("use died")
                        : Effect.void,
                  ),
              ),
            )
            assert.strictEqual(Exit.isSuccess(exit), outcome === "succeed")
            const accepted = yield* Scope.extend(listener.accept, yield* Effect.scope)
            // everything, then a clean EOF: close_notify arrived before the TCP close
            assert.strictEqual(text(yield* readAll(accepted)), outcome)
          }
        }),
      ),
    )

    it.live("sendEof sends close_notify and the peer can still answer (half close)", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server()
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.gen(function* () {
                const all = yield* readAll(c)
                yield* c.send(bytes(`got ${all.length}`))
                yield* c.sendEof
              }),
            ),
          )
          for (const maxVersion of ["TLSv1.2", "TLSv1.3"] as const) {
            const conn = yield* client(listener, { ca: certs.ca.cert, maxVersion })
            assert.strictEqual(Option.getOrThrow(Tls.info(conn)).version, maxVersion)
            yield* conn.send(bytes("12345"))
            yield* conn.sendEof
            assert.strictEqual(text(yield* readAll(conn)), "got 5")
            yield* conn.close
          }
        }),
      ),
    )

    for (const standardCompatible of [true, false]) {
      it.live(`ragged EOF from a server (standardCompatible: ${standardCompatible})`, () =>
        run(
          Effect.gen(function* () {
            for (const mode of ["clean", "ragged"] as const) {
              yield* Effect.scoped(
                Effect.gen(function* () {
                  const peer = yield* python(RAGGED_SERVER, [certs.server.certFile, certs.server.keyFile, mode])
                  const conn = yield* Tcp.connect({
                    host: "127.0.0.1",
                    port: Number(peer.firstLine),
                    tls: { ca: certs.ca.cert, standardCompatible },
                  })
                  assert.strictEqual(text(yield* readN(conn, 2)), "hi")
                  const end = yield* Effect.flip(conn.receive())
                  if (mode === "ragged" && standardCompatible && limits.raggedEof !== false) {
                    assert.strictEqual(end._tag, "BrokenResource")
                    if (end._tag === "BrokenResource")
                      assert.strictEqual(end.code, "ERR_SSL_UNEXPECTED_EOF_WHILE_READING")
                  } else assert.strictEqual(end._tag, "EndOfStream", `${mode}: ${end._tag}`)
                }),
              )
            }
          }),
        ),
      )

      it.live(`ragged EOF from a client (standardCompatible: ${standardCompatible})`, () =>
        run(
          Effect.gen(function* () {
            const listener = yield* server({ standardCompatible })
            const ends = yield* Ref.make<Array<string>>([])
            const done = yield* Deferred.make<void>()
            yield* Effect.forkScoped(
              listener.serve((c) =>
                Effect.gen(function* () {
                  const got = text(yield* readN(c, 2))
                  yield* c.send(bytes("ok"))
                  const end = yield* Effect.flip(c.receive())
                  const list = yield* Ref.updateAndGet(ends, (l) => [
                    ...l,
                    `${got}:${end._tag}${end._tag === "BrokenResource" ? `:${end.code}` : ""}`,
                  ])
                  if (list.length === 2) yield* Deferred.succeed(done, undefined)
                }).pipe(Effect.orDie),
              ),
            )
            const port = String(portOf(listener.address))
            yield* Effect.scoped(python(RAGGED_CLIENT, [certs.ca.certFile, port, "clean"]))
            yield* Effect.scoped(python(RAGGED_CLIENT, [certs.ca.certFile, port, "ragged"]))
            yield* Deferred.await(done)
            const list = [...(yield* Ref.get(ends))].sort()
            assert.deepStrictEqual(
              list,
              standardCompatible && limits.raggedEof !== false
                ? ["hi:BrokenResource:ERR_SSL_UNEXPECTED_EOF_WHILE_READING", "hi:EndOfStream"]
                : ["hi:EndOfStream", "hi:EndOfStream"],
            )
          }),
        ),
      )
    }

    it.live("real peer: the netfx client against openssl s_server", () =>
      run(
        Effect.gen(function* () {
          const { conn } = yield* revServer
          yield* conn.send(bytes("hello netfx\n"))
          let reply = ""
          while (!reply.includes("\n")) reply += text(yield* conn.receive())
          assert.strictEqual(reply, "xften olleh\n")
        }),
      ),
    )

    it.live("real peer: openssl s_client against the netfx listener", () =>
      run(
        Effect.gen(function* () {
          const listener = yield* server({ alpnProtocols: ["netfx/1"] })
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.gen(function* () {
                let name = ""
                while (!name.includes("\n")) name += text(yield* c.receive())
                yield* c.send(bytes(`Hello, ${name.trim()}\n`))
                yield* c.close
              }).pipe(Effect.orDie),
            ),
          )
          const result = yield* runProcess(
            "openssl",
            ["s_client", ...sClientTo(listener), "-alpn", "netfx/1", "-ign_eof"],
            "openssl\n",
          )
          assert.include(result.stdout, "Hello, openssl")
          assert.include(result.stdout, "Verify return code: 0 (ok)")
          assert.include(result.stdout, "ALPN protocol: netfx/1")
        }),
      ),
    )

    // close_notify against a bare close, with OpenSSL as the peer: `s_server -rev` sends close_notify
    // when it reads CLOSE, `s_client` when its stdin ends; SIGKILL makes the kernel close the socket
    // with a bare FIN (everything sent to the peer was read by then, so no reset).
    for (const mode of ["close_notify", "killed"] as const) {
      it.live(`real peer: openssl s_server ending with ${mode}`, () =>
        run(
          Effect.gen(function* () {
            const { peer, conn } = yield* revServer
            yield* conn.send(bytes("hello\n"))
            let reply = ""
            while (!reply.includes("\n")) reply += text(yield* conn.receive())
            assert.strictEqual(reply, "olleh\n")
            if (mode === "close_notify") yield* conn.send(bytes("CLOSE\n"))
            else peer.process.kill("SIGKILL")
            const end = yield* Effect.flip(conn.receive())
            if (mode === "killed" && limits.raggedEof !== false) {
              assert.strictEqual(end._tag, "BrokenResource")
              if (end._tag === "BrokenResource") assert.strictEqual(end.code, "ERR_SSL_UNEXPECTED_EOF_WHILE_READING")
            } else assert.strictEqual(end._tag, "EndOfStream")
          }),
        ),
      )

      it.live(`real peer: openssl s_client ending with ${mode}`, () =>
        run(
          Effect.gen(function* () {
            const listener = yield* server()
            const ended = yield* Deferred.make<string>()
            yield* Effect.forkScoped(
              listener.serve((c) =>
                Effect.gen(function* () {
                  let got = ""
                  while (!got.includes("\n")) got += text(yield* c.receive())
                  yield* c.send(bytes(`ok ${got.trim()}\n`))
                  const end = yield* Effect.flip(c.receive())
                  yield* Deferred.succeed(ended, end._tag === "BrokenResource" ? `${end._tag}:${end.code}` : end._tag)
                }).pipe(Effect.orDie),
              ),
            )
            const client = yield* openSslClient(sClientTo(listener))
            client.process.stdin.write("hi\n")
            // the reply comes after the TLS 1.3 session tickets: s_client has read everything
            yield* client.waitFor("ok hi")
            if (mode === "close_notify") client.process.stdin.end()
            else client.process.kill("SIGKILL")
            yield* client.exited
            const end = yield* Deferred.await(ended)
            assert.strictEqual(
              end,
              mode === "killed" && limits.raggedEof !== false
                ? "BrokenResource:ERR_SSL_UNEXPECTED_EOF_WHILE_READING"
                : "EndOfStream",
            )
          }),
        ),
      )
    }

    it.live("a peer that closes before the handshake is logged at Debug, not Warning (health checks, port scans)", () =>
      run(
        Effect.gen(function* () {
          const logged: Array<string> = []
          const capture = Logger.make(({ annotations, logLevel, message }) => {
            const text = Array.isArray(message) ? message.join(" ") : String(message)
            if (text.includes("TLS handshake")) {
              const code = String(HashMap.get(annotations, "code").pipe(Option.getOrElse(() => "?")))
              logged.push(`${logLevel.label} code=${code}`)
            }
          })
          const listener = yield* server().pipe(
            Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
            Effect.provide(Logger.minimumLogLevel(LogLevel.Debug)),
          )
          yield* Effect.forkScoped(listener.serve(echo))
          // a TCP health check: connect, send nothing, close
          yield* Effect.scoped(Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) }))
          yield* eventually(() => logged.length > 0, "the dropped connection is logged")
          assert.strictEqual(logged.length, 1)
          assert.match(logged[0] as string, /^DEBUG code=(ECONNRESET|EPIPE|ECONNABORTED)$/)
          // the listener still serves TLS clients
          const conn = yield* client(listener)
          yield* conn.send(bytes("ok"))
          assert.strictEqual(text(yield* readN(conn, 2)), "ok")
        }),
      ),
    )

    it.live("a listener drops a connection whose handshake times out, without calling the handler", () =>
      run(
        Effect.gen(function* () {
          const logged: Array<string> = []
          const capture = Logger.make(({ annotations, message }) => {
            const text = Array.isArray(message) ? message.join(" ") : String(message)
            if (text.includes("TLS handshake")) {
              logged.push(
                `${text} peer=${String(HashMap.get(annotations, "peer").pipe(Option.getOrElse(() => "?")))} code=${String(HashMap.get(annotations, "code").pipe(Option.getOrElse(() => "?")))}`,
              )
            }
          })
          const listener = yield* server({ handshakeTimeout: "200 millis" }).pipe(
            Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
          )
          const handled = yield* Ref.make(0)
          yield* Effect.forkScoped(
            listener.serve((c) =>
              Effect.zipRight(
                Ref.update(handled, (n) => n + 1),
                echo(c),
              ),
            ),
          )
          // a plain TCP client that never starts the handshake
          const silent = yield* Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) })
          const end = yield* Effect.flip(silent.receive())
          assert.include(["EndOfStream", "BrokenResource"], end._tag)
          // logged once, with the peer and the reason code
          yield* eventually(() => logged.length > 0, "the handshake failure is logged")
          assert.deepStrictEqual(logged, [
            `netfx: TLS handshake failed, connection dropped peer=${SocketAddress.format(silent.localAddress)} code=ETIMEDOUT`,
          ])
          // the listener still serves TLS clients afterwards
          const conn = yield* client(listener)
          yield* conn.send(bytes("ok"))
          assert.strictEqual(text(yield* readN(conn, 2)), "ok")
          assert.strictEqual(yield* Ref.get(handled), 1)
        }),
      ),
    )

    it.live("client handshakeTimeout: a server that never answers fails the connect with TlsFailed ETIMEDOUT", () =>
      run(
        Effect.gen(function* () {
          // accepts TCP, never answers the ClientHello
          const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
          const accepted = yield* Deferred.make<SocketStream.SocketStream>()
          yield* Effect.forkScoped(listener.serve((c) => Effect.zipRight(Deferred.succeed(accepted, c), Effect.never)))
          const before = env.openFds?.()
          const port = portOf(listener.address)
          const e = yield* Effect.flip(
            Tcp.connect({ host: "127.0.0.1", port, tls: { ca: certs.ca.cert, handshakeTimeout: 200 } }),
          )
          assert.strictEqual(e._tag, "TlsFailed")
          if (e._tag === "TlsFailed") {
            assert.strictEqual(e.code, "ETIMEDOUT")
            assert.include(e.message, "did not complete within 200ms")
          }
          // the client's socket was closed: the server sees the end
          const server = yield* Deferred.await(accepted)
          const end = yield* Effect.flip(server.receive().pipe(Effect.forever))
          assert.include(["EndOfStream", "BrokenResource"], end._tag)
          // Tcp.connect's own `timeout` bounds the handshake too, as ConnectFailed ETIMEDOUT
          const whole = yield* Effect.flip(
            Tcp.connect({ host: "127.0.0.1", port, timeout: "200 millis", tls: { ca: certs.ca.cert } }),
          )
          assert.strictEqual(whole._tag, "ConnectFailed")
          if (whole._tag === "ConnectFailed") assert.strictEqual(whole.code, "ETIMEDOUT")
          if (before !== undefined && env.openFds !== undefined) {
            const openFds = env.openFds
            yield* eventually(() => openFds() <= before + 2, `descriptors back near ${before} (now ${openFds()})`)
          }
        }),
      ),
    )

    if (env.openFds !== undefined) {
      const openFds = env.openFds
      it.live("interrupting connect during the handshake leaves no descriptor open", () =>
        run(
          Effect.gen(function* () {
            // accepts TCP, never answers the ClientHello
            const listener = yield* Tcp.listen({ host: "127.0.0.1", port: 0 })
            const accepted = yield* Deferred.make<SocketStream.SocketStream>()
            yield* Effect.forkScoped(
              listener.serve((c) => Effect.zipRight(Deferred.succeed(accepted, c), Effect.never)),
            )
            // warm up lazily created descriptors before taking the baseline
            yield* Effect.scoped(Tcp.connect({ host: "127.0.0.1", port: portOf(listener.address) }))
            const baseline = openFds()
            const fiber = yield* Effect.fork(Effect.scoped(client(listener)))
            const conn = yield* Deferred.await(accepted)
            yield* Fiber.interrupt(fiber)
            yield* conn.close
            yield* eventually(() => openFds() <= baseline, `descriptors back to ${baseline} (now ${openFds()})`)
          }),
        ),
      )
    }
  })
}
