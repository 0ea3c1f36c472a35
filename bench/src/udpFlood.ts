/**
 * A plain Python `socket` loop flooding a UDP port on 127.0.0.1 from another
 * process (connected, `size`-byte datagrams, as fast as it can), the sender
 * that is the same for every receiver (udpCpu.ts, udpDiag.ts).
 */
import { spawn } from "node:child_process"

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
