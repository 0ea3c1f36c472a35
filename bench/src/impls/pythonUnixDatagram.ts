import { spawn } from "node:child_process"
import * as readline from "node:readline"
import type { Readable } from "node:stream"
import type { Impl, Timed } from "./types.ts"

/**
 * The Unix datagram baseline: a plain Python `socket` loop (the runtimes
 * have no Unix datagram sockets of their own). Each side reports its own
 * CPU time, which the worker adds to its own.
 */
const SINK = `
import os, socket, sys, threading, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
count = 0
def loop():
    global count
    while True:
        s.recv(65536)
        count += 1
threading.Thread(target=loop, daemon=True).start()
print("ready", flush=True)
for line in sys.stdin:
    t = os.times()
    print(count, int((t.user + t.system) * 1e6), flush=True)
`

const SEND = `
import os, socket, sys, time
path, millis, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(path)
data = b"\\x07" * size
t0 = time.perf_counter()
deadline = t0 + millis / 1000
count = 0
while True:
    s.send(data)
    count += 1
    if (count & 63) == 0 and time.perf_counter() >= deadline:
        break
seconds = time.perf_counter() - t0
t = os.times()
print(count, seconds, int((t.user + t.system) * 1e6), flush=True)
`

const lines = (child: { readonly stdout: Readable }) => {
  const queue: Array<(line: string) => void> = []
  readline.createInterface({ input: child.stdout }).on("line", (line) => queue.shift()?.(line))
  return () => new Promise<string>((resolve) => queue.push(resolve))
}

/** `unixDatagramSink` / `unixDatagramSend` of the raw implementations. */
export const pythonUnixDatagram: Pick<Impl, "unixDatagramSink" | "unixDatagramSend"> = {
  async unixDatagramSink(path) {
    const child = spawn("python3", ["-c", SINK, path], { stdio: ["pipe", "pipe", "inherit"] })
    child.unref()
    const next = lines(child)
    await next()
    let last = { received: 0, cpuMicros: 0 }
    const query = async () => {
      child.stdin.write("q\n")
      const [count, cpu] = (await next()).split(" ").map(Number)
      last = { received: count ?? 0, cpuMicros: cpu ?? 0 }
      return last
    }
    return { received: async () => (await query()).received, cpuMicros: async () => (await query()).cpuMicros }
  },
  async unixDatagramSend(path, millis, size) {
    const child = spawn("python3", ["-c", SEND, path, String(millis), String(size)], {
      stdio: ["pipe", "pipe", "inherit"],
    })
    const [count, seconds, cpu] = (await lines(child)()).split(" ").map(Number)
    return { count: count ?? 0, seconds: seconds ?? 1, cpuMicros: cpu ?? 0 } satisfies Timed & {
      cpuMicros: number
    }
  },
}
