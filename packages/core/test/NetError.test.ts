import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as NetError from "../src/NetError.ts"
import * as SocketAddress from "../src/SocketAddress.ts"

const bytes = (s: string) => new TextEncoder().encode(s)

describe("NetError", () => {
  it("tags equal class names and messages are readable", () => {
    const address = SocketAddress.ipv4("127.0.0.1", 9)
    const cases: Array<[NetError.NetError, string, string]> = [
      [new NetError.EndOfStream(), "EndOfStream", "end of stream"],
      [new NetError.ClosedResource({ operation: "receive" }), "ClosedResource", "receive on a closed resource"],
      [
        new NetError.BrokenResource({ operation: "receive", code: "ECONNRESET", syscall: "read", address }),
        "BrokenResource",
        "receive failed: connection broken with ECONNRESET in read (127.0.0.1:9)",
      ],
      [
        new NetError.BusyResource({ operation: "receive" }),
        "BusyResource",
        "another fiber is already waiting in receive on this resource",
      ],
      [
        new NetError.ConnectFailed({ host: "localhost", port: 9, attempts: [{ address, code: "ECONNREFUSED" }] }),
        "ConnectFailed",
        "cannot connect to localhost:9 (127.0.0.1:9: ECONNREFUSED): nothing is listening there",
      ],
      [
        new NetError.ResolveFailed({ host: "x.invalid", code: "ENOTFOUND" }),
        "ResolveFailed",
        'cannot resolve "x.invalid": ENOTFOUND (the name does not exist)',
      ],
      [
        new NetError.ResolveFailed({ host: "x.invalid", code: "EAI_WEIRD", cause: new Error("upstream said no") }),
        "ResolveFailed",
        'cannot resolve "x.invalid": EAI_WEIRD (upstream said no)',
      ],
      [
        new NetError.ConnectFailed({
          host: "db.test",
          port: 5432,
          attempts: [{ address, code: "ETIMEDOUT" }],
          code: "ETIMEDOUT",
          timeout: Duration.millis(200),
        }),
        "ConnectFailed",
        "cannot connect to db.test:5432: timed out after 200ms (127.0.0.1:9: ETIMEDOUT)",
      ],
      [
        new NetError.ListenFailed({ address, code: "EADDRINUSE" }),
        "ListenFailed",
        "cannot listen on 127.0.0.1:9: EADDRINUSE (another socket is bound to that port: pick another, or port 0 for any free one)",
      ],
      [
        new NetError.TlsFailed({ code: "CERT_HAS_EXPIRED", reason: "certificate has expired", address }),
        "TlsFailed",
        "TLS failed (127.0.0.1:9): CERT_HAS_EXPIRED: certificate has expired",
      ],
      [
        new NetError.IncompleteRead({ partial: new Uint8Array(3), expected: 5 }),
        "IncompleteRead",
        "stream ended after 3 bytes of 5 expected",
      ],
      [
        new NetError.LimitExceeded({ limit: 10, buffered: 12 }),
        "LimitExceeded",
        "delimiter not found within 10 bytes (12 buffered)",
      ],
      [
        new NetError.LimitExceeded({ limit: 10, buffered: 12, operation: "receiveUntil", delimiter: bytes('\0"\\;') }),
        "LimitExceeded",
        'receiveUntil: delimiter "\\0\\"\\\\;" not found within 10 bytes (12 buffered)',
      ],
      [
        new NetError.Unsupported({ feature: "fd passing", runtime: "memory", reason: "no descriptors" }),
        "Unsupported",
        "fd passing is not supported on memory: no descriptors",
      ],
      [
        new NetError.OperationFailed({ operation: "sendTo", code: "EMSGSIZE", syscall: "send", address }),
        "OperationFailed",
        "sendTo failed with EMSGSIZE in send (127.0.0.1:9): the datagram is larger than the socket can send (UDP: at most 65,507 bytes over IPv4, 65,527 over IPv6)",
      ],
      [
        new NetError.OperationFailed({ operation: "setMulticastInterface", code: "EINVAL", syscall: "setsockopt" }),
        "OperationFailed",
        "setMulticastInterface failed with EINVAL in setsockopt",
      ],
      [
        new NetError.InvalidArgument({ argument: "port", reason: "must be an integer in 0..65535", value: -1 }),
        "InvalidArgument",
        "invalid port: must be an integer in 0..65535",
      ],
    ]
    for (const [error, tag, message] of cases) {
      assert.strictEqual(error._tag, tag)
      assert.strictEqual(error.constructor.name, tag)
      assert.strictEqual(error.message, message)
      assert.instanceOf(error, Error)
    }
  })

  it("names with invisible or control characters are escaped in messages", () => {
    const path = SocketAddress.unixPath("/tmp/a\nb\u202Ec")
    const listen = new NetError.ListenFailed({ address: path, code: "EACCES" })
    assert.strictEqual(listen.message, "cannot listen on /tmp/a\\x0ab\\u{202e}c: EACCES (permission denied)")
    const resolve = new NetError.ResolveFailed({ host: "evil\u200b.test\r\nINFO forged", code: "ENOTFOUND" })
    assert.strictEqual(
      resolve.message,
      'cannot resolve "evil\\u{200b}.test\\x0d\\x0aINFO forged": ENOTFOUND (the name does not exist)',
    )
    const connect = new NetError.ConnectFailed({ host: "a\x1bb", port: 1, attempts: [] })
    assert.strictEqual(connect.message, "cannot connect to a\\x1bb:1")
    assert.strictEqual(SocketAddress.format(SocketAddress.unixAbstract("x\ty")), "@x\\x09y")
    // ordinary names (IDN included) are untouched
    assert.strictEqual(SocketAddress.format(SocketAddress.unixPath("/tmp/straße.sock")), "/tmp/straße.sock")
  })

  it("keeps the platform error as cause and can be caught by tag", () =>
    Effect.gen(function* () {
      const platform = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", syscall: "read" })
      const facts = NetError.errnoOf(platform)
      assert.deepStrictEqual(facts, { code: "ECONNRESET", syscall: "read" })
      const error = new NetError.BrokenResource({ operation: "receive", ...facts, cause: platform })
      assert.strictEqual(error.cause, platform)
      const caught = yield* Effect.fail(error).pipe(Effect.catchTag("BrokenResource", (e) => Effect.succeed(e.code)))
      assert.strictEqual(caught, "ECONNRESET")
      assert.deepStrictEqual(NetError.errnoOf("weird"), { code: "EUNKNOWN" })
    }).pipe(Effect.runPromise))
  it("tlsReasonOf: Node's and Bun's short reason, OpenSSL's line stripped, a fallback", () => {
    const node = Object.assign(
      new Error("80:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:x.c:1:\n"),
      {
        reason: "wrong version number",
      },
    )
    assert.strictEqual(NetError.tlsReasonOf(node, "?"), "wrong version number")
    const bun = Object.assign(new Error("error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER"), {
      reason: "WRONG_VERSION_NUMBER",
    })
    assert.strictEqual(NetError.tlsReasonOf(bun, "?"), "wrong version number")
    const line = new Error(
      "807C0A32707F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n",
    )
    assert.strictEqual(NetError.tlsReasonOf(line, "?"), "wrong version number")
    assert.strictEqual(
      NetError.tlsReasonOf(new Error("error:100000f7:SSL routines:OPENSSL_internal:HTTP_REQUEST"), "?"),
      "http request",
    )
    assert.strictEqual(NetError.tlsReasonOf(new Error("self-signed certificate"), "?"), "self-signed certificate")
    assert.strictEqual(NetError.tlsReasonOf(undefined, "the handshake failed"), "the handshake failed")
  })

  it("tlsCodeOf: Bun's EPROTO with an SSL reason reads as Node's ERR_SSL_ code", () => {
    const bun = Object.assign(new Error("error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER"), {
      code: "EPROTO",
    })
    assert.strictEqual(NetError.tlsCodeOf(bun), "ERR_SSL_WRONG_VERSION_NUMBER")
    assert.strictEqual(
      NetError.tlsCodeOf(Object.assign(new Error("x"), { code: "CERT_HAS_EXPIRED" })),
      "CERT_HAS_EXPIRED",
    )
    assert.strictEqual(NetError.tlsCodeOf(Object.assign(new Error("socket hang up"), { code: "EPROTO" })), "EPROTO")
  })

  it("TlsFailed: a hint where the code tells the cause, none otherwise", () => {
    const hint = (code: string) => new NetError.TlsFailed({ code, reason: "r" }).hint
    assert.include(hint("DEPTH_ZERO_SELF_SIGNED_CERT"), "tls.ca")
    assert.include(hint("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), "tls.ca")
    assert.include(hint("ERR_SSL_WRONG_VERSION_NUMBER"), "is the peer speaking TLS")
    assert.include(hint("ERR_SSL_PACKET_LENGTH_TOO_LONG"), "is the peer speaking TLS")
    assert.isUndefined(hint("CERT_HAS_EXPIRED"))
    assert.strictEqual(
      new NetError.TlsFailed({ code: "ERR_SSL_WRONG_VERSION_NUMBER", reason: "wrong version number" }).message,
      "TLS failed: ERR_SSL_WRONG_VERSION_NUMBER: wrong version number (the peer did not answer with TLS records: is the peer speaking TLS (right port, STARTTLS step done)?)",
    )
  })
})
