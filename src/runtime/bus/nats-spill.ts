/**
 * Messages larger than the NATS server's max_payload (1 MB by default) travel through a JetStream object store:
 * the sender puts the bytes under a unique name and sends only the name in a header; the receiver reads and deletes
 * them. Objects expire on their own (TTL), so a receiver that dies never leaves them behind for long. This keeps
 * the in-process and NATS transports equal: neither has a payload size limit a module must know about.
 */
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { Objm, type ObjectStore } from "@nats-io/obj";
import { unavailable } from "../errors";

export const H_SPILL = "Cleave-Spill";
/** Room left for headers and protocol framing under max_payload. */
const HEADROOM = 16 * 1024;
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export class Spill {
  private store?: Promise<ObjectStore>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly bucket: string,
  ) {}

  /** The largest body that fits in one NATS message on this server. */
  get limit(): number {
    // While reconnecting the client has no server info: assume NATS's default limit until it is back.
    return (this.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - HEADROOM;
  }

  fits(size: number): boolean {
    return size <= this.limit;
  }

  private open(): Promise<ObjectStore> {
    this.store ??= new Objm(this.nc)
      .create(this.bucket, { ttl: 10 * 60 * 1_000_000_000, description: "Cleave bus: oversized messages in transit" })
      .catch((err) => {
        this.store = undefined;
        throw unavailable(`message exceeds NATS max_payload and JetStream object store is unavailable: ${err.message}`);
      });
    return this.store;
  }

  /** Stores `data`, sets the header that points at it, and returns the (empty) body to send instead. */
  async put(data: Uint8Array, h: MsgHdrs): Promise<Uint8Array> {
    const name = crypto.randomUUID();
    await (await this.open()).putBlob({ name }, data);
    h.set(H_SPILL, name);
    return new Uint8Array(0);
  }

  /** The real body of a received message: its own data, or the spilled object it points at. */
  async take(data: Uint8Array, h: MsgHdrs | undefined): Promise<Uint8Array> {
    const name = h?.get(H_SPILL);
    if (!name) return data;
    const store = await this.open();
    const blob = await store.getBlob(name);
    if (!blob) throw unavailable(`spilled bus message ${name} is gone (expired or already read)`);
    void store.delete(name).catch(() => {});
    return blob;
  }
}
