/**
 * Where UDP datagrams are lost (Node, Linux): a receiver in this process
 * (raw node:dgram or netfx) against a sender in another process (the
 * bench's raw or netfx `udpSend`, or a plain Python `socket` loop), so any
 * receiver can be put under any sender's load. Per window it prints one
 * JSON line: the sender's rate, loss split into the socket's kernel drops
 * (the `drops` column of /proc/net/udp: the receive buffer was full) and
 * netfx's own queue drops (`dropped`), and the receiver's CPU per datagram
 * delivered. The sender child prints its own CPU per datagram sent to
 * stderr. The measured windows are bracketed by MEASURE-START / MEASURE-END
 * lines (to pick out `--trace-gc` lines).
 *
 *   taskset -c 0 node --import tsx bench/src/udpDiag.ts
 *   RECEIVER=raw|netfx SENDER=raw|netfx|python MS=1000 (per window) WINDOWS=5 SENDER_CPU=1
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as v8 from "node:v8"
import { netfxImpl, rawImpl } from "./impls/thisRuntime.ts"
import { floodCommand, runCounting } from "./udpFlood.ts"

const env = (name: string, fallback: string) => process.env[name] ?? fallback

/** The kernel's drop count of the IPv4 UDP socket bound to `port` (/proc/net/udp, last column). */
const kernelDrops = (port: number): number => {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`
  for (const line of fs.readFileSync("/proc/net/udp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f[1]?.endsWith(hex)) return Number(f[f.length - 1])
  }
  return Number.NaN
}

/** Runs a sender (pinned to SENDER_CPU) for `millis`; resolves with how many datagrams it sent. */
const send = (sender: string, port: number, millis: number): Promise<number> =>
  runCounting([
    "taskset",
    "-c",
    env("SENDER_CPU", "1"),
    ...(sender === "python"
      ? floodCommand(port, millis, 64)
      : [
          process.execPath,
          ...process.execArgv,
          process.argv[1] as string,
          "send",
          sender,
          String(port),
          String(millis),
        ]),
  ])

const sink = async (which: string) => {
  const s = await (which === "raw" ? await rawImpl() : await netfxImpl()).udpSink!()
  return { port: s.port, received: s.received, dropped: s.dropped ?? (() => 0) }
}

const main = async () => {
  if (process.argv[2] === "send") {
    const impl = process.argv[3] === "raw" ? await rawImpl() : await netfxImpl()
    const cpu0 = process.cpuUsage()
    const r = await impl.udpSend!(Number(process.argv[4]), Number(process.argv[5]), 64)
    const cpu = process.cpuUsage(cpu0)
    process.stderr.write(
      `sender ${process.argv[3]} ${process.versions.node}: ${r.count} sent, ${((cpu.user + cpu.system) / r.count).toFixed(2)} µs CPU each (user ${(cpu.user / r.count).toFixed(2)})\n`,
    )
    process.stdout.write(`${r.count}\n`)
    process.exit(0)
  }
  const receiver = env("RECEIVER", "netfx")
  const sender = env("SENDER", "python")
  const millis = Number(env("MS", "1000"))
  const windows = Number(env("WINDOWS", "5"))
  const s = await sink(receiver)
  await send(sender, s.port, 300)
  await new Promise((r) => setTimeout(r, 200))
  console.log("MEASURE-START")
  for (let i = 0; i < windows; i++) {
    const r0 = s.received()
    const k0 = kernelDrops(s.port)
    const q0 = s.dropped()
    const cpu0 = process.cpuUsage()
    const sent = await send(sender, s.port, millis)
    await new Promise((r) => setTimeout(r, 200))
    const cpu = process.cpuUsage(cpu0)
    const got = s.received() - r0
    const k = kernelDrops(s.port) - k0
    const q = s.dropped() - q0
    console.log(
      JSON.stringify({
        receiver,
        sender,
        node: process.versions.node,
        sentPerS: Math.round(sent / (millis / 1000)),
        lossPct: +(100 * (1 - got / sent)).toFixed(1),
        kernelDropPct: +((100 * k) / sent).toFixed(1),
        queueDropPct: +((100 * q) / sent).toFixed(1),
        cpuUsPerDelivered: +((cpu.user + cpu.system) / Math.max(1, got)).toFixed(2),
        cpuUsPerArrived: +((cpu.user + cpu.system) / Math.max(1, got + q)).toFixed(2),
        delivered: got,
        // V8's young generation now (it grows with allocation; its size sets how rare and long scavenges are)
        newSpaceMiB: +(
          (v8.getHeapSpaceStatistics().find((x) => x.space_name === "new_space")?.space_size ?? 0) /
          2 ** 20
        ).toFixed(1),
        load: +(os.loadavg()[0] ?? 0).toFixed(1),
      }),
    )
  }
  console.log("MEASURE-END")
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
