import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import { descriptorExhaustion } from "@netfx/core/testing"

const fixture = fileURLToPath(new URL("./fixtures/emfile-server.ts", import.meta.url))
// node itself (not the tsx wrapper script): the test lowers this very process's RLIMIT_NOFILE
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

descriptorExhaustion({ name: "node", command: [process.execPath, "--import", tsx, fixture] })
