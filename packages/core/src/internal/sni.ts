// Server-name matching for `sniContexts` keys, shared by Tls (validation)
// and the driver tier (`credentialsFor`).
import * as Either from "effect/Either"
import * as Resolver from "../Resolver.ts"
import type { TlsCredentials } from "../Tls.ts"

/** A server name in its matching form: A-labels, lower case, no trailing dot; `undefined` when invalid. */
export const sniName = (name: string): string | undefined => {
  if (name.includes("*")) return undefined
  const ascii = Resolver.toAscii(name)
  if (Either.isLeft(ascii)) return undefined
  const lower = ascii.right.toLowerCase()
  const bare = lower.endsWith(".") ? lower.slice(0, -1) : lower
  // the URL host parser validates ASCII names too (labels, forbidden characters)
  try {
    if (bare === "" || new URL(`http://${bare}/`).hostname !== bare) return undefined
  } catch {
    return undefined
  }
  return bare
}

/** An `sniContexts` key in its matching form (`*.` + name for a wildcard); `undefined` when invalid. */
export const sniKey = (key: string): string | undefined => {
  if (key.startsWith("*.")) {
    const rest = sniName(key.slice(2))
    return rest === undefined ? undefined : `*.${rest}`
  }
  return sniName(key)
}

/** `sniContexts` by normalised key, built once per object. */
const sniTables = new WeakMap<object, ReadonlyMap<string, TlsCredentials>>()

export const sniTable = (contexts: Readonly<Record<string, TlsCredentials>>): ReadonlyMap<string, TlsCredentials> => {
  let table = sniTables.get(contexts)
  if (table === undefined) {
    const built = new Map<string, TlsCredentials>()
    for (const [key, credentials] of Object.entries(contexts)) {
      const normalised = sniKey(key)
      // the first spelling of a name wins; invalid keys were refused at listen time
      if (normalised !== undefined && !built.has(normalised)) built.set(normalised, credentials)
    }
    table = built
    sniTables.set(contexts, table)
  }
  return table
}
