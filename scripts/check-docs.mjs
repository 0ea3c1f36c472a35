// Checks the API documentation of @netfx/core, @netfx/node and @netfx/bun:
// 1. every exported declaration of a public module (src/*.ts) has a JSDoc
//    block with an @example, unless it is marked @internal;
// 2. every ```ts example in those JSDoc blocks, and every ```ts and ```js
//    block in README.md, packages/*/README.md and docs/*.md, type-checks
//    against the packages, with the repository's strict settings.
//
// A fence may carry a tag after the language: "```ts no-run: <reason>" marks
// an example that scripts/run-doc-examples.mjs must not run (say why).
//
// The examples are written to examples/.doc-examples/ (gitignored), one
// module per example, and compiled there with `tsc --noEmit`; errors are
// reported against the source file and the example's line.
//
// Usage: node scripts/check-docs.mjs      (after `pnpm check`; exit code 1 on any finding)
//        node scripts/check-docs.mjs --extract-only <dir>
//          writes the example modules (and examples.json) into <dir> and stops:
//          no documentation check, no tsc (scripts/consumer-test.mjs type-checks
//          them against the installed packages)
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const extractAt = process.argv.indexOf("--extract-only")
const extractOnly = extractAt >= 0
if (extractOnly && process.argv[extractAt + 1] === undefined) {
  console.error("check-docs: --extract-only needs a directory")
  process.exit(2)
}
const out = extractOnly ? process.argv[extractAt + 1] : join(root, "examples", ".doc-examples")
const packages = ["core", "node", "bun", "cluster"]

/** @type {Array<string>} */
const problems = []

/** The reason of a fence's "no-run: <reason>" tag, if any. */
const noRunOf = (/** @type {string | undefined} */ info) => {
  if (info === undefined) return undefined
  const m = /^no-run:\s*(\S.*)$/.exec(info.trim())
  if (m === null) problems.push(`unknown code fence tag "${info}" (only "no-run: <reason>")`)
  return m?.[1]
}
/** @type {Array<{ file: string, name: string, source: string, line: number, code: string, noRun?: string }>} */
const examples = []

for (const pkg of packages) {
  const dir = join(root, "packages", pkg, "src")
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith(".ts")) continue
    const path = join(dir, name)
    const text = readFileSync(path, "utf8")
    const lines = text.split("\n")
    // JSDoc blocks with the line each starts and ends on
    /** @type {Array<{ start: number, end: number, body: Array<string> }>} */
    const blocks = []
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*\/\*\*/.test(lines[i])) continue
      const start = i
      while (i < lines.length && !lines[i].includes("*/")) i++
      const body = lines.slice(start, i + 1).map((l) => l.replace(/^\s*\/?\*+\/?\s?/, "").replace(/\s*\*\/\s*$/, ""))
      blocks.push({ start, end: i, body })
    }
    // 1. exported declarations need an @example (or @internal)
    for (let i = 0; i < lines.length; i++) {
      const m =
        /^export (?:declare )?(?:const|function|class|interface|type|namespace|abstract class) ([A-Za-z0-9_$]+)/.exec(
          lines[i],
        )
      if (m === null) continue
      const doc = blocks.find((b) => b.end === i - 1)
      const rel = relative(root, path)
      if (doc === undefined) problems.push(`${rel}:${i + 1}: export ${m[1]} has no JSDoc`)
      else if (!doc.body.some((l) => l.startsWith("@internal") || l.startsWith("@example")))
        problems.push(`${rel}:${i + 1}: export ${m[1]} has no @example`)
    }
    // 2. collect the ```ts examples
    for (const block of blocks) {
      let inside = false
      /** @type {Array<string>} */
      let code = []
      let first = 0
      /** @type {string | undefined} */
      let noRun
      block.body.forEach((l, k) => {
        const fence = /^```(?:ts|typescript)(?:\s+(.*))?$/.exec(l.trim())
        if (!inside && fence !== null) {
          inside = true
          code = []
          first = block.start + k + 2
          noRun = noRunOf(fence[1])
        } else if (inside && l.trim() === "```") {
          inside = false
          examples.push({
            file: relative(root, path),
            name: `${pkg}-${name.replace(/\.ts$/, "")}`,
            source: path,
            line: first,
            code: code.join("\n"),
            ...(noRun === undefined ? {} : { noRun }),
          })
        } else if (inside) code.push(l)
      })
    }
  }
}

// the READMEs' ```ts blocks too (the repository's, each package's, docs/),
// and their ```js blocks (plain JavaScript that must also type-check: the
// program a user runs with `node` or `bun`)
const markdown = [
  "README.md",
  ...readdirSync(join(root, "packages"))
    .sort()
    .map((pkg) => join("packages", pkg, "README.md")),
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => join("docs", f)),
].filter((f) => existsSync(join(root, f)))
for (const readme of markdown) {
  const lines = readFileSync(join(root, readme), "utf8").split("\n")
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(?:ts|js)(?:\s+(.*))?$/.exec(lines[i].trim())
    if (fence === null) continue
    const noRun = noRunOf(fence[1])
    const first = i + 2
    const code = []
    for (i++; i < lines.length && lines[i].trim() !== "```"; i++) code.push(lines[i])
    examples.push({
      file: readme,
      name: readme === "README.md" ? "readme" : readme.replace(/\.md$/, "").replaceAll("/", "-").toLowerCase(),
      source: join(root, readme),
      line: first,
      code: code.join("\n"),
      ...(noRun === undefined ? {} : { noRun }),
    })
  }
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
/** @type {Map<string, { file: string, line: number }>} */
const origin = new Map()
examples.forEach((e, n) => {
  const file = `${e.name}-${String(n).padStart(3, "0")}.ts`
  origin.set(file, { file: e.file, line: e.line })
  // each example is its own module; unused values are fine in an example
  writeFileSync(join(out, file), `${e.code}\nexport {}\n`)
})
// what scripts/run-doc-examples.mjs runs
writeFileSync(
  join(out, "examples.json"),
  JSON.stringify(
    examples.map((e, n) => ({
      module: `${e.name}-${String(n).padStart(3, "0")}.ts`,
      file: e.file,
      line: e.line,
      ...(e.noRun === undefined ? {} : { noRun: e.noRun }),
    })),
    null,
    2,
  ),
)
if (extractOnly) {
  console.log(`check-docs: ${examples.length} examples written to ${out}`)
  process.exit(0)
}
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify(
    {
      extends: "../../tsconfig.base.json",
      compilerOptions: {
        noEmit: true,
        composite: false,
        declaration: false,
        declarationMap: false,
        types: ["node", "bun"],
      },
      include: ["*.ts"],
      // the packages as they are built (`pnpm check` builds them first)
      references: packages.map((pkg) => ({ path: `../../packages/${pkg}` })),
    },
    null,
    2,
  ),
)
const tsc = spawnSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(out, "tsconfig.json")], {
  encoding: "utf8",
  cwd: out,
})
const output = `${tsc.stdout}${tsc.stderr}`
for (const line of output.split("\n")) {
  const m = /^([^(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(line.trim())
  if (m === null) {
    if (line.trim() !== "" && tsc.status !== 0) problems.push(line)
    continue
  }
  const o = origin.get(m[1].split("/").pop())
  problems.push(o === undefined ? line : `${o.file}:${o.line + Number(m[2]) - 1}: example: ${m[4]}`)
}

if (problems.length > 0) {
  for (const p of problems) console.error(p)
  console.error(`check-docs: ${problems.length} problem(s) in ${examples.length} examples`)
  // TS6305: the examples check against the packages' build output, which is older than their sources
  if (output.includes("error TS6305")) {
    console.error("check-docs: the packages' build output is stale: run `pnpm check` (it runs `tsc -b` first)")
  }
  process.exit(1)
}
console.log(`check-docs: ${examples.length} examples type-check; every public export is documented with an example`)
