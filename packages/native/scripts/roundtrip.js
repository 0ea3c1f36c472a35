// Smoke test of one prebuilt binary in the runtime that runs this script
// (Node, Bun, or an arm64 Node under qemu-user): the loader must pick
// prebuilds/<expected>/ and the addon must pass a descriptor over a
// socketpair (SCM_RIGHTS) and report readiness through the runtime's
// event loop (uv_poll on Node, the epoll thread on Bun), and send and
// receive datagrams in batches (sendmmsg; recvmmsg on Node).
//
// Usage: <runtime> scripts/roundtrip.js <expected target>, e.g. linux-arm64-glibc
"use strict"
const assert = require("node:assert/strict")
const fs = require("node:fs")
const os = require("node:os")
const path = require("node:path")
const addon = require("../index.js")

const expected = process.argv[2]
const runtime = typeof globalThis.Bun !== "undefined" ? `bun ${globalThis.Bun.version}` : `node ${process.version}`
const label = `${expected} on ${runtime} (${process.arch})`

const main = async () => {
  assert.equal(addon.loadError, undefined, `the addon did not load: ${addon.loadError}`)
  assert.equal(addon.target, expected)
  assert.equal(addon.loadedFrom, path.join(__dirname, "..", "prebuilds", expected, "netfx_native.node"))
  const b = addon.binding
  const pair = b.socketpair(b.constants.SOCK_STREAM)
  assert.ok(Array.isArray(pair), `socketpair failed: ${addon.errnoName(pair)}`)
  const [left, right] = pair

  // a file descriptor travels from left to right with a payload
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "netfx-roundtrip-"))
  const file = path.join(dir, "passed.txt")
  const fd = fs.openSync(file, "w+")
  const sent = b.sendmsg(left, new TextEncoder().encode("hello"), [fd])
  assert.equal(sent, 5, `sendmsg: ${addon.errnoName(sent)}`)

  // readiness: the right end becomes readable (already is: the message is queued)
  await new Promise((resolve, reject) => {
    const watch = addon.watch(right, (events) => {
      watch.close()
      if ((events & b.constants.EV_READ) !== 0) resolve()
      else reject(new Error(`readiness reported events ${events}`))
    })
    assert.equal(typeof watch, "object", `watch: ${addon.errnoName(watch)}`)
    assert.equal(watch.arm(b.constants.EV_READ), 0)
  })
  const received = b.recvmsg(right, 64, 4)
  assert.equal(typeof received, "object", `recvmsg: ${addon.errnoName(received)}`)
  assert.equal(new TextDecoder().decode(received.data), "hello")
  assert.equal(received.fds.length, 1)
  const passed = received.fds[0]
  assert.notEqual(passed, fd)
  // the received descriptor is the same open file
  fs.writeSync(passed, "written through the passed descriptor")
  fs.closeSync(passed)
  fs.closeSync(fd)
  assert.equal(fs.readFileSync(file, "utf8"), "written through the passed descriptor")
  assert.equal(b.close(left), 0)
  assert.equal(b.close(right), 0)
  fs.rmSync(dir, { recursive: true, force: true })

  // batches: sendmmsg over a datagram socketpair; on Node, recvmmsg through udpRecvStart on a UDP socket
  const dpair = b.socketpair(b.constants.SOCK_DGRAM)
  assert.ok(Array.isArray(dpair), `socketpair(SOCK_DGRAM) failed: ${addon.errnoName(dpair)}`)
  const datas = ["a", "bb", "ccc"].map((t) => new TextEncoder().encode(t))
  assert.equal(b.sendmmsg(dpair[0], datas, 0, 3, null, false), 3)
  for (const t of ["a", "bb", "ccc"]) assert.equal(new TextDecoder().decode(b.recvfrom(dpair[1], 16).data), t)
  b.close(dpair[0])
  b.close(dpair[1])
  if (typeof globalThis.Bun === "undefined") {
    const rx = b.socketAny(4, b.constants.SOCK_DGRAM)
    const tx = b.socketAny(4, b.constants.SOCK_DGRAM)
    assert.equal(b.bindAny(rx, { family: 4, host: "127.0.0.1", port: 0 }), 0)
    assert.equal(b.bindAny(tx, { family: 4, host: "127.0.0.1", port: 0 }), 0)
    const to = b.getsocknameAny(rx)
    for (const d of datas) assert.equal(b.sendtoAny(tx, d, to), d.length)
    const meta = new Int32Array(128)
    const got = []
    await new Promise((resolve, reject) => {
      const handle = b.udpRecvStart(
        rx,
        (data, count, senders, error) => {
          if (error !== 0) return reject(new Error(`udpRecvStart: ${addon.errnoName(error)}`))
          let at = 0
          for (let i = 0; i < count; i++) {
            got.push(new TextDecoder().decode(data.subarray(at, at + meta[i])))
            at += meta[i]
          }
          assert.deepEqual(senders.slice(0, 3), ["127.0.0.1", b.getsocknameAny(tx).port, 4])
          if (got.length === 3) {
            b.udpRecvStop(handle)
            resolve()
          }
        },
        meta,
      )
      if (typeof handle === "number") reject(new Error(`udpRecvStart: ${addon.errnoName(handle)}`))
    })
    assert.deepEqual(got, ["a", "bb", "ccc"])
    b.close(rx)
    b.close(tx)
  }
  console.log(`roundtrip ok: ${label}`)
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`roundtrip FAILED: ${label}: ${error?.stack ?? error}`)
    process.exit(1)
  },
)
