/**
 * Runners on separate hosts: three @effect/cluster runner processes, each in its own network
 * namespace, a client-only process in a fourth and PostgreSQL in a fifth, joined by veth pairs
 * to a bridge in a hub namespace (all created here, with names that include this process's id,
 * on 10.213.0.0/24 which exists only inside them). Storage is PostgreSQL (@effect/sql-pg), as a
 * production cluster would use: every runner reaches it over the network, its advisory locks
 * end with a killed runner's connection, and messages persist across runners. (SQLite would
 * need one file shared by every host, which only works on one machine.)
 *
 * The entities spread over the three runners; then one runner's host is killed (SIGKILL to
 * every process in its namespace), and every entity answers again, those of the dead runner
 * from the other two, their persisted messages processed there.
 *
 * Needs root, `ip` (iproute2), `runuser` and PostgreSQL's server binaries (Debian's
 * `postgresql` package: /usr/lib/postgresql/<version>/bin). Skipped, saying why, only where
 * network namespaces cannot be created.
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "netns-node.ts")
const tag = `nfx${process.pid}`
const run = (cmd: string, args: ReadonlyArray<string>) => {
  const r = spawnSync(cmd, args, { encoding: "utf8" })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.error?.message}`)
  return r.stdout
}

// can this machine create network namespaces? (root and a kernel that allows it)
const probe = `${tag}-probe`
const netnsError = (() => {
  const r = spawnSync("ip", ["netns", "add", probe], { encoding: "utf8" })
  if (r.status !== 0) return (r.stderr || r.error?.message || "ip netns add failed").trim()
  spawnSync("ip", ["netns", "del", probe])
  return undefined
})()
if (netnsError !== undefined) console.warn(`NetnsCluster: skipped, network namespaces cannot be created: ${netnsError}`)

const pgBin = (() => {
  const base = "/usr/lib/postgresql"
  if (!existsSync(base)) return undefined
  const version = readdirSync(base).sort().pop()
  return version === undefined ? undefined : join(base, version, "bin")
})()

const NODES = ["hub", "db", "r1", "r2", "r3", "client"] as const
type Node = (typeof NODES)[number]
const ns = (node: Node) => `${tag}-${node}`
const address = (node: Exclude<Node, "hub">) => `10.213.0.${10 + NODES.indexOf(node)}`

/** Lines a child prints, and a wait for the first one that matches. */
const watch = (child: ChildProcess, name: string, log: Array<string>) => {
  const waiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = []
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.trim() === "") continue
      log.push(`${name}: ${line}`)
      for (const w of [...waiters]) if (w.test(line)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(line)
    }
  }
  child.stdout?.on("data", onData)
  child.stderr?.on("data", onData)
  return (test: (line: string) => boolean, timeoutMs: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name}: no matching line within ${timeoutMs} ms\n${log.slice(-30).join("\n")}`)),
        timeoutMs,
      )
      waiters.push({
        test,
        resolve: (line) => {
          clearTimeout(timer)
          resolve(line)
        },
      })
      child.once("exit", (code) => reject(new Error(`${name} exited (${code})\n${log.slice(-30).join("\n")}`)))
    })
}

const killNamespace = (node: Node) => {
  const pids = spawnSync("ip", ["netns", "pids", ns(node)], { encoding: "utf8" })
    .stdout.split("\n")
    .filter(Boolean)
  for (const pid of pids) spawnSync("kill", ["-KILL", pid])
  return pids.length
}

describe("@effect/cluster runners in separate network namespaces over PostgreSQL", () => {
  it.skipIf(netnsError !== undefined)(
    "a runner host is killed with SIGKILL: its shards move and its entities' persisted messages are processed",
    async () => {
      assert.isDefined(pgBin, "PostgreSQL's server is not installed (Debian: apt-get install postgresql)")
      const log: Array<string> = []
      const children: Array<ChildProcess> = []
      const dataDir = mkdtempSync(join(tmpdir(), "netfx-cluster-pg-"))
      try {
        // the hosts: one namespace each, a veth pair to the hub's bridge
        for (const node of NODES) run("ip", ["netns", "add", ns(node)])
        for (const node of NODES) run("ip", ["-n", ns(node), "link", "set", "lo", "up"])
        run("ip", ["-n", ns("hub"), "link", "add", "br0", "type", "bridge"])
        run("ip", ["-n", ns("hub"), "link", "set", "br0", "up"])
        NODES.forEach((node, i) => {
          if (node === "hub") return
          const host = `${tag.slice(0, 10)}h${i}`
          const peer = `${tag.slice(0, 10)}p${i}`
          run("ip", ["link", "add", host, "type", "veth", "peer", "name", peer])
          run("ip", ["link", "set", host, "netns", ns("hub")])
          run("ip", ["link", "set", peer, "netns", ns(node)])
          run("ip", ["-n", ns("hub"), "link", "set", host, "master", "br0", "up"])
          run("ip", ["-n", ns(node), "link", "set", peer, "name", "eth0"])
          run("ip", ["-n", ns(node), "addr", "add", `${address(node)}/24`, "dev", "eth0"])
          run("ip", ["-n", ns(node), "link", "set", "eth0", "up"])
        })

        // PostgreSQL on the db host, in a fresh data directory
        chownSync(dataDir, Number(run("id", ["-u", "postgres"]).trim()), Number(run("id", ["-g", "postgres"]).trim()))
        run("runuser", [
          "-u",
          "postgres",
          "--",
          join(pgBin!, "initdb"),
          "-D",
          dataDir,
          "-A",
          "trust",
          "-U",
          "postgres",
          "--no-sync",
        ])
        // the cluster's hosts may connect (the subnet exists only inside this test's namespaces)
        appendFileSync(join(dataDir, "pg_hba.conf"), "host all postgres 10.213.0.0/24 trust\n")
        const postgres = spawn("ip", [
          "netns",
          "exec",
          ns("db"),
          "runuser",
          "-u",
          "postgres",
          "--",
          join(pgBin!, "postgres"),
          "-D",
          dataDir,
          "-c",
          `listen_addresses=${address("db")}`,
          "-c",
          `unix_socket_directories=${dataDir}`,
          "-c",
          "fsync=off",
        ])
        children.push(postgres)
        await watch(postgres, "postgres", log)((l) => l.includes("ready to accept connections"), 30_000)

        const start = (node: "r1" | "r2" | "r3" | "client", args: ReadonlyArray<string>) => {
          const child = spawn(
            "ip",
            ["netns", "exec", ns(node), process.execPath, "--import", "tsx", fixture, ...args],
            { cwd: root, stdio: ["pipe", "pipe", "pipe"] },
          )
          children.push(child)
          return { child, wait: watch(child, node, log) }
        }
        // one after the other, as a deployment rolls out (three first starts at the same instant
        // were seen to stall on the storage's schema setup)
        for (const r of ["r1", "r2", "r3"] as const) {
          await start(r, ["runner", address(r), "34431", address("db")]).wait((l) => l === "RUNNING", 60_000)
        }
        const client = start("client", ["client", address("client"), address("db"), "24"])

        // 1. the entities spread over the three runners
        const ready = JSON.parse((await client.wait((l) => l.startsWith("READY "), 90_000)).slice(6)) as Record<
          string,
          string
        >
        const onR3 = Object.keys(ready).filter((e) => ready[e] === address("r3"))
        assert.isAbove(onR3.length, 0)

        // 2. the r3 host dies: every process in its namespace gets SIGKILL
        assert.isAbove(killNamespace("r3"), 0)
        client.child.stdin?.write("go\n")
        const done = JSON.parse((await client.wait((l) => l.startsWith("DONE "), 90_000)).slice(5)) as Record<
          string,
          string
        >

        // every entity answered, the dead runner's from the other two
        assert.deepStrictEqual(Object.keys(done).sort(), Object.keys(ready).sort())
        for (const entity of Object.keys(done)) assert.notStrictEqual(done[entity], address("r3"), entity)
        for (const entity of onR3) assert.include([address("r1"), address("r2")], done[entity], entity)
      } finally {
        for (const node of NODES) killNamespace(node)
        for (const child of children) child.kill("SIGKILL")
        for (const node of NODES) spawnSync("ip", ["netns", "del", ns(node)])
        rmSync(dataDir, { recursive: true, force: true })
      }
    },
    300_000,
  )
})
