// The @netfx/native loader and install script, run against copies of the
// package in temporary directories (each case in its own Node process, so
// the loader runs afresh): which binary is picked, the fallback, the
// message when nothing loads, and an install that never fails.

import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, describe, it } from "@effect/vitest"

const pkg = path.join(path.dirname(fileURLToPath(import.meta.url)), "..")
const require = createRequire(import.meta.url)
const target = require("../target.js") as {
  readonly libc: () => string | undefined
  readonly current: () => string | undefined
  readonly PREBUILT: ReadonlyArray<string>
}
// a binary that loads here: the local build (pnpm install compiles it) or this platform's prebuilt one
const here = target.current() ?? "unknown"
const binary = [
  path.join(pkg, "build", "Release", "netfx_native.node"),
  path.join(pkg, "prebuilds", here, "netfx_native.node"),
].find((file) => fs.existsSync(file))

const temps: Array<string> = []
afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true })
})

/** A copy of the package's JavaScript with the given binaries in place. */
const copy = (binaries: Record<string, Buffer | string>): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "netfx-native-loader-"))
  temps.push(dir)
  for (const file of ["index.js", "target.js", "install.js", "build.js"])
    fs.copyFileSync(path.join(pkg, file), path.join(dir, file))
  for (const [rel, content] of Object.entries(binaries)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true })
    if (typeof content === "string") fs.copyFileSync(content, path.join(dir, rel))
    else fs.writeFileSync(path.join(dir, rel), content)
  }
  return dir
}

/** Loads the copy in a fresh Node process and reports what the loader exports. */
const load = (dir: string) => {
  const result = spawnSync(
    process.execPath,
    [
      "-e",
      `const a = require(${JSON.stringify(path.join(dir, "index.js"))});
       console.log(JSON.stringify({ loadedFrom: a.loadedFrom, loadError: a.loadError, target: a.target,
         socketpair: typeof a.binding?.socketpair }))`,
    ],
    { encoding: "utf8" },
  )
  assert.strictEqual(result.status, 0, result.stderr)
  return JSON.parse(result.stdout) as {
    loadedFrom?: string
    loadError?: string
    target?: string
    socketpair: string
  }
}

const prebuilt = `prebuilds/${here}/netfx_native.node`
const local = "build/Release/netfx_native.node"

describe.skipIf(binary === undefined || !target.PREBUILT.includes(here))("@netfx/native loader", () => {
  it("detects this machine's C library without a child process", () => {
    // this machine is Debian (glibc); process.report says the same
    assert.strictEqual(target.libc(), "glibc")
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined
    assert.isString(report?.header?.glibcVersionRuntime)
    assert.strictEqual(here, `linux-${process.arch}-glibc`)
  })

  it("picks the prebuilt binary for this platform over a local build", () => {
    const dir = copy({ [prebuilt]: binary!, [local]: binary! })
    const loaded = load(dir)
    assert.strictEqual(loaded.loadedFrom, path.join(dir, prebuilt))
    assert.strictEqual(loaded.target, here)
    assert.strictEqual(loaded.socketpair, "function")
  })

  it("falls back to the local build when the prebuilt binary is missing or does not load", () => {
    const missing = copy({ [local]: binary! })
    assert.strictEqual(load(missing).loadedFrom, path.join(missing, local))
    const broken = copy({ [prebuilt]: Buffer.from("not an ELF file"), [local]: binary! })
    const loaded = load(broken)
    assert.strictEqual(loaded.loadedFrom, path.join(broken, local))
    assert.strictEqual(loaded.loadError, undefined)
  })

  it("without any binary: no binding, and loadError says what was tried", () => {
    const dir = copy({ [prebuilt]: Buffer.from("not an ELF file") })
    const loaded = load(dir)
    assert.strictEqual(loaded.socketpair, "undefined")
    assert.include(loaded.loadError, `${prebuilt}:`)
    assert.include(loaded.loadError, `${local} is missing`)
  })

  it("a worker thread gets no readiness when another thread loaded the addon first, and says why", () => {
    // The readiness state (uv_poll on the first thread's loop) is process-wide: a
    // worker's watchers would be polled on, and report to, the main thread.
    const dir = copy({ [prebuilt]: binary! })
    const index = JSON.stringify(path.join(dir, "index.js"))
    const script = `
      const { Worker, isMainThread, parentPort } = require("node:worker_threads")
      const a = require(${index})
      const facts = () => ({ watch: typeof a.watch, fix: a.fix, fd: a.binding.watch(0),
        udp: a.binding.udpRecvStart(0, () => {}, new Int32Array(128)) })
      if (isMainThread) {
        const main = { watch: typeof a.watch, fix: a.fix }
        new Worker(__filename).on("message", (worker) => console.log(JSON.stringify({ main, worker })))
      } else parentPort.postMessage(facts())`
    const file = path.join(dir, "worker-probe.js")
    fs.writeFileSync(file, script)
    const result = spawnSync(process.execPath, [file], { encoding: "utf8" })
    assert.strictEqual(result.status, 0, result.stderr)
    const { main, worker } = JSON.parse(result.stdout) as {
      main: { watch: string; fix: string }
      worker: { watch: string; fix: string; fd: number; udp: number }
    }
    assert.strictEqual(main.watch, "function")
    assert.notInclude(main.fix, "thread")
    assert.strictEqual(worker.watch, "undefined")
    assert.include(worker.fix, "worker thread")
    // the binding itself refuses too (ENOSYS), so a direct caller cannot poll on another loop
    assert.strictEqual(worker.fd, -38)
    assert.strictEqual(worker.udp, -38)
  })

  it("the install script uses a prebuilt binary that loads, and compiles nothing", () => {
    const dir = copy({ [prebuilt]: binary! })
    const result = spawnSync(process.execPath, [path.join(dir, "install.js")], { cwd: dir, encoding: "utf8" })
    assert.strictEqual(result.status, 0)
    assert.include(result.stdout, `using the prebuilt binary for ${here}`)
    assert.isFalse(fs.existsSync(path.join(dir, "build")))
  })

  it("the install script never fails: no prebuilt binary and no toolchain on PATH", () => {
    const dir = copy({})
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "netfx-native-path-"))
    temps.push(empty)
    const result = spawnSync(process.execPath, [path.join(dir, "install.js")], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, PATH: empty },
    })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stdout, "cannot compile: a C compiler (cc), make, python3 not found")
    assert.include(result.stdout, "npm rebuild @netfx/native")
  })
})
