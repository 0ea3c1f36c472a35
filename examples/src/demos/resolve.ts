import * as Effect from "effect/Effect"
import { customResolver, lookup, ResolverLive, serviceName, servicePort } from "../resolve.ts"
import type { Demo } from "./Demo.ts"

export const demo: Demo = {
  title: "Names: Trio's getaddrinfo/getnameinfo, IDNA 2008 and a custom resolver (resolve.ts)",
  run: Effect.gen(function* () {
    for (const line of yield* lookup("localhost", 80)) console.log(`  getaddrinfo localhost:80 -> ${line}`)
    console.log(`  getnameinfo 127.0.0.1:22 with NI_NUMERICHOST -> service ${JSON.stringify(yield* serviceName(22))}`)
    console.log(`  getaddrinfo(None, "https") -> port ${yield* servicePort("https")}`)
    const custom = yield* customResolver
    console.log(`  Tcp.connect("straße.de"): the custom resolver was asked for ${custom.asked.join(", ")}`)
    console.log(`  echo: ${custom.reply}`)
  }).pipe(Effect.provide(ResolverLive)),
}
