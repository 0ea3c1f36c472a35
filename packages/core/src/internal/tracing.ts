import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/**
 * Effect's built-in tracer: what every fiber has until a tracer is installed.
 * It exports nothing, so a fiber whose `currentTracer` is it needs no span.
 *
 * @internal
 */
export const builtInTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/**
 * Runs `effect` in a span `name` when a tracer is installed
 * (`Effect.withTracer`, `Layer.setTracer`, OpenTelemetry, ...), and
 * without one under Effect's built-in tracer, which exports nothing.
 *
 * A span costs even when nobody collects it: creating it, adding it to the
 * fiber's context and ending it measured ~8 µs of CPU per connect, about a
 * tenth of a whole loopback connect. The span captures no stack trace: a
 * trace captured here would point into netfx, not at the caller, and
 * capturing one costs ~1.5 µs on every call, traced or not.
 *
 * @internal
 */
export const traced = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  attributes: Record<string, unknown>,
): Effect.Effect<A, E, R> => Effect.tracerWith((tracer) => tracedBy(tracer, effect, name, attributes))

/**
 * {@link traced} for a caller that already has the fiber's tracer (read in a
 * step of its own, e.g. `fiber.currentTracer`): no `tracerWith` step.
 *
 * @internal
 */
export const tracedBy = <A, E, R>(
  tracer: Tracer.Tracer,
  effect: Effect.Effect<A, E, R>,
  name: string,
  attributes: Record<string, unknown>,
): Effect.Effect<A, E, R> =>
  tracer === builtInTracer ? effect : Effect.withSpan(effect, name, { attributes, captureStackTrace: false })
