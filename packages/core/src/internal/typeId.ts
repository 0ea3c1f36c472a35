/** @internal */
export const TypeId: unique symbol = Symbol.for("@netfx/core/SocketStream")
/** @internal */
export type TypeId = typeof TypeId

/** @internal */
export const ListenerTypeId: unique symbol = Symbol.for("@netfx/core/Listener")
/** @internal */
export type ListenerTypeId = typeof ListenerTypeId
