import { SocketAddress } from "@netfx/core"
import type * as Driver from "@netfx/core/Driver"

/**
 * A raw connection whose input the test delivers by hand (`deliver`, `end`);
 * `write` is what the connection does with written bytes (default: accept
 * them all at once).
 */
export const handConnection = (write: (data: Uint8Array) => boolean = () => true) => {
  let handlers: Driver.ConnectionHandlers | undefined
  const raw: Driver.RawConnection = {
    localAddress: SocketAddress.ipv4("127.0.0.1", 1),
    remoteAddress: SocketAddress.ipv4("127.0.0.1", 2),
    fd: undefined,
    extra: {},
    start: (h) => {
      handlers = h
    },
    pause: () => {},
    resume: () => {},
    write,
    shutdown: () => {},
    close: () => {},
  }
  return {
    raw,
    deliver: (bytes: Uint8Array) => handlers?.onData(bytes),
    end: () => handlers?.onEnd(),
  }
}
