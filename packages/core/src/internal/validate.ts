import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { InvalidArgument } from "../NetError.ts"

/** @internal The error for a bad port, `undefined` for a good one (no Effect: for hot paths). */
export const portError = (name: string, value: unknown): InvalidArgument | undefined =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 65535
    ? undefined
    : new InvalidArgument({ argument: name, reason: "must be an integer in 0..65535", value })

/** @internal */
export const port = (name: string, value: unknown): Effect.Effect<number, InvalidArgument> => {
  const error = portError(name, value)
  return error === undefined ? Effect.succeed(value as number) : Effect.fail(error)
}

/** @internal */
export const positiveInt = (name: string, value: unknown): Effect.Effect<number, InvalidArgument> =>
  typeof value === "number" && Number.isInteger(value) && value >= 1
    ? Effect.succeed(value)
    : Effect.fail(new InvalidArgument({ argument: name, reason: "must be an integer >= 1", value }))

/** @internal */
export const nonNegative = (name: string, value: unknown): Effect.Effect<number, InvalidArgument> =>
  typeof value === "number" && Number.isFinite(value) && value >= 0
    ? Effect.succeed(value)
    : Effect.fail(new InvalidArgument({ argument: name, reason: "must be a number >= 0", value }))

/** @internal The error for a bad host, `undefined` for a good one (no Effect: for hot paths). */
export const hostError = (name: string, value: unknown): InvalidArgument | undefined =>
  typeof value === "string" && value.length > 0 && value.length <= 1024 && !value.includes("\0")
    ? undefined
    : new InvalidArgument({ argument: name, reason: "must be a non-empty host name or address", value })

/** @internal */
export const host = (name: string, value: unknown): Effect.Effect<string, InvalidArgument> => {
  const error = hostError(name, value)
  return error === undefined ? Effect.succeed(value as string) : Effect.fail(error)
}

/** @internal True for a DurationInput that decodes to a finite or infinite duration > 0. */
export const isPositiveDuration = (value: unknown): boolean => {
  const d = Duration.decodeUnknown(value)
  return d._tag === "Some" && Duration.greaterThan(d.value, Duration.zero)
}

/** @internal A DurationInput > 0 (a number is milliseconds), decoded. */
export const positiveDuration = (name: string, value: unknown): Effect.Effect<Duration.Duration, InvalidArgument> => {
  const d = Duration.decodeUnknown(value)
  return d._tag === "Some" && Duration.greaterThan(d.value, Duration.zero)
    ? Effect.succeed(d.value)
    : Effect.fail(new InvalidArgument({ argument: name, reason: "must be a positive duration", value }))
}

/** @internal A DurationInput >= 0 (a number is milliseconds), decoded. */
export const nonNegativeDuration = (
  name: string,
  value: unknown,
): Effect.Effect<Duration.Duration, InvalidArgument> => {
  const d = Duration.decodeUnknown(value)
  return d._tag === "Some"
    ? Effect.succeed(d.value)
    : Effect.fail(new InvalidArgument({ argument: name, reason: "must be a duration >= 0", value }))
}
