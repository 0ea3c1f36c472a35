/**
 * netfx core: the socket model, the error vocabulary and the transports'
 * platform-free halves. Provide a runtime with `@netfx/node` or
 * `@netfx/bun` (or `MemoryNetwork` for tests).
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Asyncio from "./Asyncio.ts"
/** @since 0.2.0 */
export * as Attribute from "./Attribute.ts"
/** @since 0.1.0 */
export * as BufferedStream from "./BufferedStream.ts"
/** @since 0.2.0 */
export * as Datagram from "./Datagram.ts"
/** @since 0.1.0 */
/** @since 0.1.0 */
export * as FdPassing from "./FdPassing.ts"
/** @since 0.1.0 */
export * as Listener from "./Listener.ts"
/** @since 0.1.0 */
export * as MemoryNetwork from "./MemoryNetwork.ts"
/** @since 0.1.0 */
/** @since 0.1.0 */
export * as NetError from "./NetError.ts"
/** @since 0.1.0 */
export * as Network from "./Network.ts"
/** @since 0.1.0 */
export * as RawSocket from "./RawSocket.ts"
/** @since 0.1.0 */
export * as Resolver from "./Resolver.ts"
/** @since 0.1.0 */
export * as SocketAddress from "./SocketAddress.ts"
/** @since 0.1.0 */
export * as SocketStream from "./SocketStream.ts"
/** @since 0.1.0 */
export * as Tcp from "./Tcp.ts"
/** @since 0.1.0 */
export * as TextStream from "./TextStream.ts"
/** @since 0.1.0 */
export * as Tls from "./Tls.ts"
/** @since 0.1.0 */
export * as Udp from "./Udp.ts"
/** @since 0.1.0 */
export * as Unix from "./Unix.ts"
/** @since 0.1.0 */
export * as UnixDatagram from "./UnixDatagram.ts"
