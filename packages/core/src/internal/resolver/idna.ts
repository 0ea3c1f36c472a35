// IDNA 2008 (UTS #46, non-transitional) conversion of host names to their
// ASCII form, and the validation of A-labels (`xn--...`) — the public
// `Resolver.toAscii` documents the semantics.
import * as Either from "effect/Either"
import { ResolveFailed } from "../../NetError.ts"
import { punycodeDecode } from "./punycode.ts"

const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}
// WHATWG forbidden host code points, controls and space: never part of a
// domain name, and the URL parser would treat them as syntax.
// biome-ignore lint/suspicious/noControlCharactersInRegex: controls are what it rejects
const FORBIDDEN_RE = /[\x00-\x20\x7f#%/:<>?@[\\\]^|]/

/** A label starting with the ACE prefix (`xn--`, any case). */
const A_LABEL_RE = /(?:^|\.)xn--/i

/**
 * Whether `label` (starting `xn--`) is a valid A-label: its Punycode
 * decodes, to a label with a non-ASCII code point, which UTS #46 (the
 * platform's URL host parser) maps back to exactly this label. Decoded here
 * rather than left to the URL parser, whose acceptance of an undecodable
 * A-label differs between runtimes (Node 24 passes `xn--zz` through).
 */
const isValidALabel = (label: string): boolean => {
  const decoded = punycodeDecode(label.slice(4))
  if (decoded === undefined || decoded === "" || isAscii(decoded)) return false
  try {
    return new URL(`http://${decoded}/`).hostname === label.toLowerCase()
  } catch {
    return false
  }
}

/** Every label starting `xn--` (any case) is a valid A-label. */
const aLabelsValid = (host: string): boolean =>
  !A_LABEL_RE.test(host) ||
  host.split(".").every((label) => !label.toLowerCase().startsWith("xn--") || isValidALabel(label))

/** See `Resolver.toAscii`. */
export const toAscii = (host: string): Either.Either<string, ResolveFailed> => {
  const invalid = (reason: string) =>
    Either.left(new ResolveFailed({ host, code: "EAI_IDN_ENCODE", syscall: "idna", cause: reason }))
  if (isAscii(host)) {
    if (!A_LABEL_RE.test(host)) return Either.right(host)
    // UTS #46 decodes and checks every A-label (Punycode, then the U-label's validity)
    if (FORBIDDEN_RE.test(host) || !aLabelsValid(host)) {
      return invalid("the name has an invalid A-label (xn--): no valid IDNA 2008 (UTS #46) label decodes from it")
    }
    return Either.right(host)
  }
  if (FORBIDDEN_RE.test(host)) return invalid("the name contains a character that is not allowed in a host name")
  let ascii: string
  try {
    ascii = new URL(`http://${host}/`).hostname
  } catch {
    return invalid("the name has no valid IDNA 2008 (UTS #46) ASCII form")
  }
  if (ascii === "" || !isAscii(ascii) || !aLabelsValid(ascii))
    return invalid("the name has no valid IDNA 2008 (UTS #46) ASCII form")
  return Either.right(ascii.startsWith("[") ? ascii.slice(1, -1) : ascii)
}
