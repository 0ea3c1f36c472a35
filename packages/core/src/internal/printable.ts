/**
 * Characters a message must not carry raw: C0/C1 controls, DEL, format
 * characters (zero-width, bidi overrides), line/paragraph separators,
 * unpaired surrogates, and the backslash that introduces an escape.
 */
const UNPRINTABLE =
  /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\\]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u

const UNPRINTABLE_ALL = new RegExp(UNPRINTABLE.source, "gu")

/**
 * A name (host, path, abstract name) as it may appear in a message: every
 * invisible or control character is written as `\xNN` / `\u{NNNN}` (and `\`
 * as `\\`), so a log line shows what was really there and a hostile name
 * cannot forge or hide text. Plain names come back unchanged (and
 * uncopied).
 *
 * @internal
 */
export const printable = (name: string): string =>
  UNPRINTABLE.test(name)
    ? name.replace(UNPRINTABLE_ALL, (c) => {
        if (c === "\\") return "\\\\"
        const code = c.codePointAt(0) as number
        return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`
      })
    : name
