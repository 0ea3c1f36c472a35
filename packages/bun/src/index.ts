/**
 * netfx for Bun.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as BunNetwork from "./BunNetwork.ts"
