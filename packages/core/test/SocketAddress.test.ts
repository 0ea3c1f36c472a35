import { assert, describe, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as SocketAddress from "../src/SocketAddress.ts"

describe("SocketAddress", () => {
  it("formats every family the way people write it", () => {
    assert.strictEqual(SocketAddress.format(SocketAddress.ipv4("127.0.0.1", 80)), "127.0.0.1:80")
    assert.strictEqual(SocketAddress.format(SocketAddress.ipv6("::1", 443)), "[::1]:443")
    assert.strictEqual(SocketAddress.format(SocketAddress.ipv6("fe80::1", 22, { scopeId: 2 })), "[fe80::1%2]:22")
    assert.strictEqual(SocketAddress.format(SocketAddress.unixPath("/run/app.sock")), "/run/app.sock")
    assert.strictEqual(SocketAddress.format(SocketAddress.unixPath("")), "(unnamed)")
    assert.strictEqual(SocketAddress.format(SocketAddress.unixAbstract("netfx")), "@netfx")
  })

  it("has structural equality", () => {
    assert.isTrue(Equal.equals(SocketAddress.ipv4("10.0.0.1", 1), SocketAddress.ipv4("10.0.0.1", 1)))
    assert.isFalse(Equal.equals(SocketAddress.ipv4("10.0.0.1", 1), SocketAddress.ipv4("10.0.0.1", 2)))
    assert.deepStrictEqual(SocketAddress.ipv6("::1", 1), SocketAddress.ipv6("::1", 1, { flowInfo: 0, scopeId: 0 }))
  })

  it("tells numeric hosts from names", () => {
    assert.strictEqual(SocketAddress.numericFamily("127.0.0.1"), 4)
    assert.strictEqual(SocketAddress.numericFamily("255.255.255.255"), 4)
    assert.strictEqual(SocketAddress.numericFamily("256.1.1.1"), 0)
    assert.strictEqual(SocketAddress.numericFamily("::1"), 6)
    assert.strictEqual(SocketAddress.numericFamily("[::1]"), 6)
    assert.strictEqual(SocketAddress.numericFamily("fe80::1%eth0"), 6)
    assert.strictEqual(SocketAddress.numericFamily("::ffff:127.0.0.1"), 6)
    assert.strictEqual(SocketAddress.numericFamily("localhost"), 0)
    assert.strictEqual(SocketAddress.numericFamily("cafe"), 0)
  })

  it("classifies families", () => {
    assert.strictEqual(SocketAddress.family(SocketAddress.ip("::1", 1)), "ipv6")
    assert.strictEqual(SocketAddress.family(SocketAddress.ip("1.2.3.4", 1)), "ipv4")
    assert.strictEqual(SocketAddress.family(SocketAddress.unixAbstract("x")), "unix")
    assert.isTrue(SocketAddress.isIp(SocketAddress.ipv4("1.2.3.4", 1)))
    assert.isTrue(SocketAddress.isUnix(SocketAddress.unixPath("/x")))
  })
})
