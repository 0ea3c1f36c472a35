/**
 * netfx for Node.js.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as NodeNetwork from "./NodeNetwork.ts"
