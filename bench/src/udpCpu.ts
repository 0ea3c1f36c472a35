/**
 * CPU time per received UDP datagram and loss, for a receiver in this
 * process (raw node:dgram or netfx) flooded by a plain Python `socket` loop
 * in another process (connected, 64-byte datagrams, as fast as it can), so
 * `process.cpuUsage()` counts the receiver alone and both receivers face the
 * same sender. Loss is the share of sent datagrams not received 200 ms after
 * the sender stopped (kernel drops and netfx queue drops alike).
 *
 *   node --import tsx bench/src/udpCpu.ts
 *   bun bench/src/udpCpu.ts (raw `Bun.udpSocket` against netfx over BunNetwork)
 *   RECEIVER=raw|netfx MS=1000 (per window) WINDOWS=5 SIZE=64
 *   PROFILE=out.cpuprofile (Node: a CPU profile of the measured windows only)
 *
 * BURST=n measures without a second process, so other load on the machine
 * hardly matters: this process sends bursts of n datagrams on a plain
 * socket through the addon, then waits (setImmediate) until the receiver
 * has them all, COUNT datagrams per window (default 200000); the figure is
 * the CPU of sender and receiver together per datagram, and the sender's
 * part is the same for both receivers.
 *
 * Prints the minimum and the median over the windows.
 */

import { isBun, netfxImpl, rawImpl } from "./impls/thisRuntime.ts"
import type { Impl } from "./impls/types.ts"
import { startProfile } from "./profile.ts"
import { bursts, flood } from "./udpFlood.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback

/** Under Bun: raw `Bun.udpSocket` and netfx over BunNetwork; under Node: raw node:dgram and NodeNetwork. */
const pick = (which: string): Promise<Impl> => (which === "raw" ? rawImpl() : netfxImpl())

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const summary = (values: Array<number>, digits: number, unit: string): string => {
  const sorted = [...values].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)] as number
  return `min ${(sorted[0] as number).toFixed(digits)}${unit}, median ${median.toFixed(digits)}${unit} (${values.map((x) => x.toFixed(digits)).join(" ")})`
}

const main = async () => {
  const which = env("RECEIVER", "netfx")
  const receiver = await pick(which)
  const sink = await receiver.udpSink!()
  const millis = Number(env("MS", "1000"))
  const windows = Number(env("WINDOWS", "5"))
  const size = Number(env("SIZE", "64"))
  const burst = Number(env("BURST", "0"))
  if (burst > 0) {
    const count = Number(env("COUNT", "200000"))
    await bursts(sink.port, count / 4, burst, size, sink.received) // warm-up
    const perDatagram: Array<number> = []
    for (let i = 0; i < windows; i++) {
      const cpu0 = process.cpuUsage()
      const { got, stalls } = await bursts(sink.port, count, burst, size, sink.received)
      const cpu = process.cpuUsage(cpu0)
      perDatagram.push((cpu.user + cpu.system) / got)
      if (stalls > 0) console.log(`window ${i}: ${stalls} bursts lost datagrams`)
    }
    console.log(
      `receiver=${which} ${isBun ? "bun" : "node"} burst=${burst}: CPU per datagram (sender + receiver) ${summary(perDatagram, 2, " µs")}`,
    )
    process.exit(0)
  }
  await flood(sink.port, 300, size) // warm-up
  await sleep(200)
  const stopProfile = process.env.PROFILE === undefined || isBun ? undefined : await startProfile(process.env.PROFILE)
  const perDatagram: Array<number> = []
  const loss: Array<number> = []
  const rate: Array<number> = []
  for (let i = 0; i < windows; i++) {
    const before = sink.received()
    const cpu0 = process.cpuUsage()
    const sent = await flood(sink.port, millis, size)
    await sleep(200)
    const cpu = process.cpuUsage(cpu0)
    const got = sink.received() - before
    perDatagram.push((cpu.user + cpu.system) / Math.max(1, got))
    loss.push(100 * (1 - got / Math.max(1, sent)))
    rate.push(sent / millis)
  }
  await stopProfile?.()
  const runtime = isBun ? "bun" : "node"
  console.log(`receiver=${which} ${runtime}: CPU per datagram ${summary(perDatagram, 2, " µs")}`)
  console.log(`receiver=${which} ${runtime}: loss ${summary(loss, 1, "%")}`)
  console.log(`receiver=${which} ${runtime}: sent ${summary(rate, 0, "k/s")}`)
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
