import { assert, describe, it } from "@effect/vitest"
import { missingAddonReason } from "../src/NativeDriver.ts"

describe("NativeDriver: the reason Unsupported gives without the addon", () => {
  it("on Linux: what was tried, what ships prebuilt, and the fix for npm, pnpm and bun", () => {
    const reason = missingAddonReason("no prebuilt binary for linux-riscv64-glibc", "linux")
    assert.include(reason, "no prebuilt binary for linux-riscv64-glibc")
    assert.include(reason, "prebuilt for Linux x64 and arm64 with glibc")
    assert.include(reason, "`npm rebuild @netfx/native`")
    assert.include(reason, "`pnpm approve-builds`")
    assert.include(reason, "`pnpm rebuild @netfx/native`")
    assert.include(reason, "`bun pm trust @netfx/native`")
    assert.include(reason, "`pnpm --filter @netfx/native rebuild`")
  })

  it("off Linux: the addon is Linux-only, and what still works", () => {
    const reason = missingAddonReason("no prebuilt binary for darwin-arm64", "darwin")
    assert.include(reason, "Linux-only")
    assert.include(reason, "darwin")
    assert.include(reason, "TCP, TLS, UDP and Unix stream sockets work without it")
    assert.notInclude(reason, "rebuild")
  })
})
