// Two adjustments for netfx's sources:
// - names each module as users import it: "core/src/Tcp" becomes
//   "@netfx/core/Tcp" (also the `Tcp` namespace of "@netfx/core"),
//   "core/testing" becomes "@netfx/core/testing";
// - uses a file's leading JSDoc block (netfx's module overview, which has no
//   @module tag) as the module's description.
import * as fs from "node:fs"
import { Comment, Converter, MinimalSourceFile, ReflectionKind } from "typedoc"

/** The first /** ... *\/ block of a file, without its block tags (@since). */
const overview = (text) => {
  const m = /^\s*\/\*\*([\s\S]*?)\*\//.exec(text)
  if (m === null) return undefined
  const lines = m[1].split("\n").map((line) => line.replace(/^\s*\* ?/, ""))
  const end = lines.findIndex((line) => line.startsWith("@"))
  // {@link X} in an overview names a symbol from the file's imports, which a
  // module-level comment cannot resolve: show it as code instead
  const body = (end === -1 ? lines : lines.slice(0, end))
    .join("\n")
    .replace(
      /\{@link(?:code|plain)?\s+([^}|\s]+)(?:\s*\|\s*([^}]+)|\s+([^}]+))?\}/g,
      (_, target, a, b) => a ?? b ?? `\`${target}\``,
    )
    .trim()
  return body === "" ? undefined : body
}

/** @param {import("typedoc").Application} app */
export const load = (app) => {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const m = /^(core|node|bun|cluster)\/(?:src\/)?(.+)$/.exec(module.name)
      if (m !== null) module.name = `@netfx/${m[1]}/${m[2]}`
      const file = module.sources?.[0]?.fullFileName
      if (module.comment !== undefined || file === undefined) continue
      const body = overview(fs.readFileSync(file, "utf8"))
      if (body === undefined) continue
      const parsed = context.converter.parseRawComment(new MinimalSourceFile(body, file), context.project.files)
      module.comment = new Comment(parsed.content)
    }
  })
}
