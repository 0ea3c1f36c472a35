import { assert, describe, it } from "@effect/vitest"
import * as Driver from "../src/Driver.ts"
import * as SocketAddress from "../src/SocketAddress.ts"

describe("driver tier helpers shared by the Node and Bun adapters", () => {
  it("addressFromRuntime: IPv4, IPv6 by family or colon, zone as scope id, Unix when no host", () => {
    assert.deepStrictEqual(Driver.addressFromRuntime("127.0.0.1", 80, "IPv4"), SocketAddress.ipv4("127.0.0.1", 80))
    assert.deepStrictEqual(Driver.addressFromRuntime("::1", 443, "IPv6"), SocketAddress.ipv6("::1", 443))
    assert.deepStrictEqual(Driver.addressFromRuntime("::1", 443), SocketAddress.ipv6("::1", 443))
    assert.deepStrictEqual(
      Driver.addressFromRuntime("fe80::1%2", 53, 6),
      SocketAddress.ipv6("fe80::1", 53, { scopeId: 2 }),
    )
    assert.deepStrictEqual(Driver.addressFromRuntime(undefined, undefined), SocketAddress.unixPath(""))
    assert.deepStrictEqual(Driver.addressFromRuntime("", 0), SocketAddress.unixPath(""))
    assert.deepStrictEqual(Driver.ipFromRuntime("::", 9, true), SocketAddress.ipv6("::", 9))
  })

  it("brokenFrom and errnoWithCause keep the errno facts and the cause", () => {
    const cause = Object.assign(new Error("reset"), { code: "ECONNRESET", syscall: "read" })
    const broken = Driver.brokenFrom("receive", cause, SocketAddress.ipv4("127.0.0.1", 1))
    assert.strictEqual(broken._tag, "BrokenResource")
    assert.strictEqual(broken.code, "ECONNRESET")
    assert.strictEqual(broken.syscall, "read")
    assert.strictEqual(broken.operation, "receive")
    assert.strictEqual(broken.cause, cause)
    assert.deepStrictEqual(Driver.errnoWithCause(cause), { code: "ECONNRESET", syscall: "read", cause })
  })

  it("fdOf accepts only non-negative numbers", () => {
    assert.strictEqual(Driver.fdOf({ fd: 0 }), 0)
    assert.strictEqual(Driver.fdOf({ fd: 12 }), 12)
    assert.strictEqual(Driver.fdOf({ fd: -1 }), undefined)
    assert.strictEqual(Driver.fdOf({ fd: "3" }), undefined)
    assert.strictEqual(Driver.fdOf({}), undefined)
    assert.strictEqual(Driver.fdOf(undefined), undefined)
  })

  it("nodeHasReusePort: from Node 22.12 and 23.1", () => {
    for (const v of ["22.12.0", "22.20.1", "23.1.0", "24.0.0", "25.2.1"]) assert.isTrue(Driver.nodeHasReusePort(v), v)
    for (const v of ["20.18.1", "22.11.0", "23.0.0", "21.7.3"]) assert.isFalse(Driver.nodeHasReusePort(v), v)
  })
})
