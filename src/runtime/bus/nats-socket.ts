/**
 * A NATS client transport on Bun's own TCP sockets (`Bun.connect`), for the official nats.js client: the same
 * protocol engine (@nats-io/nats-core), only the socket layer differs from @nats-io/transport-node, whose
 * node:net streams cost a fifth of a bus process's CPU in split deployments (a write callback and a deferred per
 * flush, stream bookkeeping per read). Plain TCP only: a connection configured with TLS, or to a server that
 * requires it, uses transport-node's TLS-capable transport instead (see `connectNats`).
 */
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import {
  checkOptions,
  DataBuffer,
  deferred,
  errors,
  extractProtocolMessage,
  INFO,
  NatsConnectionImpl,
  setTransportFactory,
  type Deferred,
  type Server,
  type Transport,
} from "@nats-io/nats-core/internal";
import type { Socket } from "bun";

const VERSION = "cleave-bun-socket";

/**
 * Connects like transport-node's `connect` (which it is, when TLS is configured), on Bun sockets otherwise. The
 * factory is process-wide in nats-core and also makes reconnects' transports, so it is set on every connect, as
 * transport-node's `connect` does.
 */
export function connectNats(opts: ConnectionOptions): Promise<NatsConnection> {
  if (opts.tls !== undefined && opts.tls !== null) return connect(opts);
  setTransportFactory({ factory: () => new BunSocketTransport() });
  return NatsConnectionImpl.connect(opts);
}

export class BunSocketTransport implements Transport {
  readonly lang = "nats.js";
  readonly version = VERSION;
  closeError?: Error;
  private socket?: Socket<undefined>;
  /** Frames received and not yet taken by the protocol's reader; `signal` wakes the reader. */
  private yields: Uint8Array[] = [];
  private signal: Deferred<void> = deferred();
  /** Bytes not written yet: queued this turn, or not taken by the kernel (a partial write) until `drain`. */
  private pending: Uint8Array[] = [];
  private connected = false;
  private done = false;
  private readonly closedNotification: Deferred<void | Error> = deferred();
  /** Until INFO has been read and checked, frames go to the handshake instead of the reader. */
  private handshake?: (frame: Uint8Array) => void;

  get isClosed(): boolean {
    return this.done;
  }

  async connect(server: Server, options: ConnectionOptions): Promise<void> {
    const info = deferred<Record<string, unknown>>();
    const seen: Uint8Array[] = [];
    this.handshake = (frame) => {
      seen.push(frame);
      const line = extractProtocolMessage(DataBuffer.concat(...seen));
      if (line === "") return;
      const m = INFO.exec(line);
      if (!m) return info.reject(new errors.ConnectionError("unexpected response from server"));
      try {
        info.resolve(JSON.parse(m[1]));
      } catch (err) {
        info.reject(err as Error);
      }
    };
    let dialError: Error | undefined;
    try {
      this.socket = await Bun.connect({
        hostname: server.hostname,
        port: server.port,
        socket: {
          data: (_s, chunk) => this.received(chunk),
          drain: () => this.flushPending(),
          error: (_s, err) => void (dialError = err),
          close: () => {
            info.reject(dialError ?? new errors.ConnectionError("connection closed by the server"));
            void this._closed(dialError, false);
          },
        },
      });
      this.socket.setNoDelay(true);
      const serverInfo = await info;
      checkOptions(serverInfo as never, options);
      if (serverInfo.tls_required) {
        throw errors.InvalidArgumentError.format("tls", "is required by the server: configure bus.nats.tls");
      }
      // The INFO line is handed to the protocol as the first frame, as transport-node does.
      this.yields.push(...seen);
      this.handshake = undefined;
      this.connected = true;
      this.signal.resolve();
    } catch (err) {
      this.socket?.terminate();
      const e = err as Error & { code?: string };
      throw e?.code === "ECONNREFUSED" ? new errors.ConnectionError("connection refused", { cause: e }) : e;
    }
  }

  private received(chunk: Uint8Array) {
    // Each chunk is a buffer of its own (Bun does not reuse it after the callback), so it is queued as is.
    if (this.handshake) return this.handshake(chunk);
    this.yields.push(chunk);
    this.signal.resolve();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    return this.iterate();
  }

  private async *iterate(): AsyncIterableIterator<Uint8Array> {
    while (true) {
      if (this.yields.length === 0) await this.signal;
      const yields = this.yields;
      this.yields = [];
      for (const frame of yields) yield frame;
      if (this.done) break;
      if (this.yields.length === 0) this.signal = deferred();
    }
  }

  isEncrypted(): boolean {
    return false;
  }

  /**
   * Frames are written once per turn of the event loop, together: nats-core flushes after every microtask, so a
   * gateway answering many HTTP requests per turn made one write system call per request, a sixth of its CPU. An
   * idle caller loses nothing measurable (121 µs per NATS hop either way, `npm run bench -- bus`).
   */
  send(frame: Uint8Array): void {
    if (this.done || !this.socket) return;
    this.pending.push(frame);
    if (this.pending.length === 1) setImmediate(this.flushPending);
  }

  /** Writes what is queued, as one buffer; what the kernel does not take waits for `drain`, in order. */
  private readonly flushPending = () => {
    if (this.pending.length > 1) this.pending = [DataBuffer.concat(...this.pending)];
    while (this.pending.length && this.socket) {
      const frame = this.pending[0];
      const written = this.socket.write(frame);
      if (written < frame.length) {
        this.pending[0] = frame.subarray(Math.max(0, written));
        return;
      }
      this.pending.shift();
    }
  };

  close(err?: Error): Promise<void> {
    return this._closed(err, false);
  }

  disconnect(): void {
    void this._closed(undefined, true);
  }

  discard(): void {
    this.done = true;
    this.socket?.terminate();
  }

  closed(): Promise<void | Error> {
    return this.closedNotification;
  }

  private async _closed(err: Error | undefined, internal: boolean): Promise<void> {
    if (!this.connected) return;
    if (this.done) {
      this.socket?.terminate();
      return;
    }
    this.closeError = err;
    this.done = true;
    // An orderly close sends what is still buffered first; a broken connection has nothing left to send to.
    if (!err && internal) this.flushPending();
    this.socket?.end();
    this.socket = undefined;
    this.signal.resolve();
    this.closedNotification.resolve(this.closeError);
  }
}
