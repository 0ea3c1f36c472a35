import { fileURLToPath } from "node:url"
import { descriptorExhaustion } from "@netfx/core/testing"

const fixture = fileURLToPath(new URL("./fixtures/emfile-server.ts", import.meta.url))

descriptorExhaustion({ name: "bun", command: [process.execPath, fixture] })
