/** Starts the V8 profiler through the inspector; the returned function stops it and writes `file`. */
export const startProfile = async (file: string): Promise<() => Promise<void>> => {
  const inspector = await import("node:inspector")
  const fs = await import("node:fs")
  const session = new inspector.Session()
  session.connect()
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    )
  await post("Profiler.enable")
  await post("Profiler.setSamplingInterval", { interval: 100 })
  await post("Profiler.start")
  return async () => {
    const { profile } = (await post("Profiler.stop")) as { profile: unknown }
    fs.writeFileSync(file, JSON.stringify(profile))
    session.disconnect()
  }
}
