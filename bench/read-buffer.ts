import net from 'node:net';

/** what a connection keeps between reads when it keeps nothing */
export const EMPTY = Buffer.alloc(0);
// every connection opened here reads into this one buffer (`onread`: no stream, no Buffer allocated
// per read); the callbacks run one at a time on this thread and copy whatever they keep past their return
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/**
 * A TCP connection (no delay) whose reads reach `onData` as views of one buffer shared by every such
 * connection: valid only during the call, so a caller copies what it keeps. The load generators' clients
 * read this way so that their own reading costs the measured servers as little as it can.
 */
export function connectReading(url: URL, onData: (d: Buffer) => void, onConnect?: () => void): net.Socket {
  const socket = net.connect(
    {
      port: Number(url.port),
      host: url.hostname,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, b: Uint8Array) => {
          onData((b as Buffer).subarray(0, n));
          return true;
        },
      },
    },
    onConnect,
  );
  socket.setNoDelay(true);
  return socket;
}
