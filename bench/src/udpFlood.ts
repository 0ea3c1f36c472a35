/**
 * A plain Python `socket` loop flooding a UDP port on 127.0.0.1 from another
 * process (connected, `size`-byte datagrams, as fast as it can), the sender
 * that is the same for every receiver (udpCpu.ts, udpDiag.ts); and
 * {@link bursts}, an in-process sender in bursts (udpCpu.ts BURST mode,
 * udpAlloc.ts).
 */
import { spawn } from "node:child_process"
import { createRequire } from "node:module"

const FLOOD = `
import socket, sys, time
port, millis, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", port))
data = b"x" * size
sent = 0
end = time.monotonic() + millis / 1000
while time.monotonic() < end:
    for _ in range(256):
        try:
            s.send(data)
            sent += 1
        except BlockingIOError:
            pass
print(sent)
`

/** The flooder's command line (prefix it with `taskset -c n` to pin it). */
export const floodCommand = (port: number, millis: number, size: number): Array<string> => [
  "python3",
  "-c",
  FLOOD,
  String(port),
  String(millis),
  String(size),
]

/** Runs the flooder for `millis`; resolves with how many datagrams it sent. */
export const flood = (port: number, millis: number, size: number): Promise<number> =>
  runCounting(floodCommand(port, millis, size))

/** Runs a sender process that prints how many datagrams it sent; resolves with that count. */
export const runCounting = (command: ReadonlyArray<string>): Promise<number> =>
  new Promise((resolve, reject) => {
    const [file, ...args] = command
    const child = spawn(file as string, args, { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.on("error", reject)
    child.on("exit", (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`sender exited ${code}`))))
  })

/**
 * Sends `count` datagrams to 127.0.0.1:`port` in bursts of `burst` from a
 * plain socket of this process (through the addon), each burst once
 * `received` says the receiver has the previous ones (udpCpu.ts BURST mode,
 * udpAlloc.ts). A burst not complete after 200 ms counts as a stall, and
 * only what arrived counts as sent.
 */
export const bursts = async (port: number, count: number, burst: number, size: number, received: () => number) => {
  // @netfx/native as @netfx/node resolves it (the bench does not depend on it directly)
  const a = createRequire(import.meta.resolve("@netfx/node"))("@netfx/native") as {
    readonly binding: {
      socketAny(family: number, type: number): number
      connectAny(fd: number, address: { family: 4; host: string; port: number }): number
      sendtoAny(fd: number, data: Uint8Array, address: null): number
      close(fd: number): number
      readonly constants: Record<string, number>
    }
  }
  const b = a.binding
  const fd = b.socketAny(4, b.constants.SOCK_DGRAM as number)
  if (fd < 0 || b.connectAny(fd, { family: 4, host: "127.0.0.1", port }) < 0) throw new Error("sender socket")
  const data = new Uint8Array(size).fill(7)
  const start = received()
  let sent = 0
  let stalls = 0
  while (sent < count) {
    const n = Math.min(burst, count - sent)
    for (let i = 0; i < n; i++) if (b.sendtoAny(fd, data, null) >= 0) sent++
    const deadline = Date.now() + 200
    while (received() - start < sent && Date.now() < deadline) await new Promise((r) => setImmediate(r))
    if (received() - start < sent) {
      stalls++
      sent = received() - start // lost (machine too busy): count what arrived
    }
  }
  b.close(fd)
  return { got: received() - start, stalls }
}
