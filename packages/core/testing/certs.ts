/**
 * Test certificates generated at run time with the `openssl` CLI into a
 * temporary directory (nothing is committed, nothing expires under us).
 *
 * - `ca`: a test certificate authority.
 * - `server`: signed by `ca`, for `localhost`, `127.0.0.1` and `::1`.
 * - `client`: signed by `ca`, for client authentication (mTLS).
 * - `expired`: signed by `ca` for the same names, valid only in the past.
 * - `selfSigned`: a self-signed certificate for the same names.
 * - `other`: signed by `ca` for `other.invalid` only (wrong host name).
 * - `otherCa`: a second, unrelated certificate authority.
 * - Client certificates a server trusting `ca` must refuse:
 *   `clientSelfSigned` (self-signed), `clientOtherCa` (signed by `otherCa`)
 *   and `clientExpired` (signed by `ca`, valid only in the past); each has
 *   the clientAuth purpose, so expiry or the issuer is the only fault.
 *
 * @since 0.1.0
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * A certificate and its key, as PEM text and as files.
 *
 * @since 0.1.0
 */
export interface CertPair {
  readonly cert: string
  readonly key: string
  readonly certFile: string
  readonly keyFile: string
}

/**
 * The generated set.
 *
 * @since 0.1.0
 */
export interface TestCerts {
  readonly dir: string
  readonly ca: CertPair
  readonly server: CertPair
  readonly client: CertPair
  readonly expired: CertPair
  readonly selfSigned: CertPair
  readonly other: CertPair
  readonly otherCa: CertPair
  readonly clientSelfSigned: CertPair
  readonly clientOtherCa: CertPair
  readonly clientExpired: CertPair
  /** `server`'s key encrypted (AES-256) with {@link PASSPHRASE}. */
  readonly serverEncryptedKey: string
}

/**
 * The passphrase of `serverEncryptedKey`.
 *
 * @since 0.1.0
 */
export const PASSPHRASE = "netfx test passphrase"

const SERVER_SAN = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"

const run = (dir: string, args: ReadonlyArray<string>): void => {
  execFileSync("openssl", args as Array<string>, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 })
}

const pair = (dir: string, name: string): CertPair => ({
  cert: readFileSync(join(dir, `${name}.crt`), "utf8"),
  key: readFileSync(join(dir, `${name}.key`), "utf8"),
  certFile: join(dir, `${name}.crt`),
  keyFile: join(dir, `${name}.key`),
})

const ecKey = (dir: string, name: string) =>
  run(dir, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`])

/** Signs `name.csr` with a CA (`ca` by default) through `openssl ca`, which can set explicit start and end dates. */
const sign = (dir: string, name: string, ext: string, dates: { start: string; end: string }, ca = "ca") => {
  writeFileSync(join(dir, `${name}.ext`), ext)
  run(dir, [
    "ca",
    "-batch",
    "-config",
    "ca.cnf",
    "-cert",
    `${ca}.crt`,
    "-keyfile",
    `${ca}.key`,
    "-notext",
    "-in",
    `${name}.csr`,
    "-out",
    `${name}.crt`,
    "-startdate",
    dates.start,
    "-enddate",
    dates.end,
    "-extfile",
    `${name}.ext`,
  ])
}

/** `YYMMDDHHMMSSZ` (UTCTime) for a date `days` from now. */
const utc = (days: number): string => {
  const d = new Date(Date.now() + days * 86_400_000)
  const p = (n: number) => String(n).padStart(2, "0")
  return `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`
}

/**
 * Generates the set synchronously into a fresh temporary directory.
 *
 * @since 0.1.0
 */
export const generate = (): TestCerts => {
  const dir = mkdtempSync(join(tmpdir(), "netfx-certs-"))
  writeFileSync(join(dir, "index.txt"), "")
  writeFileSync(join(dir, "serial"), "1000\n")
  writeFileSync(
    join(dir, "ca.cnf"),
    [
      "[ca]",
      "default_ca = testca",
      "[testca]",
      `dir = ${dir}`,
      "database = $dir/index.txt",
      "serial = $dir/serial",
      "new_certs_dir = $dir",
      "certificate = $dir/ca.crt",
      "private_key = $dir/ca.key",
      "default_md = sha256",
      "policy = anything",
      "unique_subject = no",
      "copy_extensions = none",
      "[anything]",
      "commonName = supplied",
      "",
    ].join("\n"),
  )
  const authority = (name: string, cn: string) => {
    ecKey(dir, name)
    run(dir, [
      "req",
      "-x509",
      "-new",
      "-key",
      `${name}.key`,
      "-sha256",
      "-days",
      "30",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      `${name}.crt`,
    ])
  }
  authority("ca", "netfx test CA")
  authority("other-ca", "netfx other CA")
  const leaf = (name: string, cn: string, ext: string, dates: { start: string; end: string }, ca = "ca") => {
    ecKey(dir, name)
    run(dir, ["req", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`])
    sign(dir, name, ext, dates, ca)
  }
  const valid = { start: utc(-1), end: utc(30) }
  const serverExt = `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n${SERVER_SAN}\n`
  leaf("server", "localhost", serverExt, valid)
  const clientExt = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"
  leaf("client", "netfx test client", clientExt, valid)
  leaf("client-expired", "netfx expired client", clientExt, { start: utc(-30), end: utc(-1) })
  leaf("client-other-ca", "netfx other-CA client", clientExt, valid, "other-ca")
  leaf("expired", "localhost", serverExt, { start: utc(-30), end: utc(-1) })
  leaf(
    "other",
    "other.invalid",
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:other.invalid\n",
    valid,
  )
  ecKey(dir, "self")
  run(dir, [
    "req",
    "-x509",
    "-new",
    "-key",
    "self.key",
    "-sha256",
    "-days",
    "30",
    "-subj",
    "/CN=localhost",
    "-addext",
    SERVER_SAN,
    "-out",
    "self.crt",
  ])
  ecKey(dir, "client-self")
  run(dir, [
    "req",
    "-x509",
    "-new",
    "-key",
    "client-self.key",
    "-sha256",
    "-days",
    "30",
    "-subj",
    "/CN=netfx self-signed client",
    "-addext",
    "extendedKeyUsage=clientAuth",
    "-out",
    "client-self.crt",
  ])
  run(dir, ["pkey", "-in", "server.key", "-aes256", "-passout", `pass:${PASSPHRASE}`, "-out", "server-enc.key"])
  return {
    dir,
    serverEncryptedKey: readFileSync(join(dir, "server-enc.key"), "utf8"),
    ca: pair(dir, "ca"),
    server: pair(dir, "server"),
    client: pair(dir, "client"),
    expired: pair(dir, "expired"),
    selfSigned: pair(dir, "self"),
    other: pair(dir, "other"),
    otherCa: pair(dir, "other-ca"),
    clientSelfSigned: pair(dir, "client-self"),
    clientOtherCa: pair(dir, "client-other-ca"),
    clientExpired: pair(dir, "client-expired"),
  }
}

/**
 * Deletes the directory (keys included).
 *
 * @since 0.1.0
 */
export const remove = (certs: TestCerts): void => rmSync(certs.dir, { recursive: true, force: true })

/**
 * Generates the set and deletes the directory (keys included) when the
 * Scope closes.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<TestCerts, never, Scope.Scope> = Effect.acquireRelease(Effect.sync(generate), (c) =>
  Effect.sync(() => remove(c)),
)
