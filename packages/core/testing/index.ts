/**
 * The netfx contract suite: run it against your `Network` Layer.
 *
 * @since 0.1.0
 */

export * as Certs from "./certs.ts"
export * from "./DatagramContract.ts"
export * from "./Exhaustion.ts"
export * from "./NativeContract.ts"
export * from "./PythonInterop.ts"
export * as Peers from "./peers.ts"
export * from "./RawSocketContract.ts"
export * from "./ResolverContract.ts"
export * from "./StreamContract.ts"
export * from "./TcpContract.ts"
export * from "./TlsAbruptPeer.ts"
export * from "./TlsContract.ts"
export * from "./UnixContract.ts"
