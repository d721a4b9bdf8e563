/**
 * Chunked uploads: an artifact larger than one bus message (NATS carries 1 MB by default) arrives as a series of
 * `upload` calls appending to `uploads/<id>.part`, then one `push` naming the upload. A part file is never a
 * version: only `push` turns it into one, through the blob store's crash-safe write.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { CleaveError, notFound } from "../../runtime/errors";

export class Uploads {
  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  private path(id: string) {
    return join(this.dir, `${id}.part`);
  }

  /** Appends at `offset`, which must be the size received so far: a retried or out-of-order chunk is refused. */
  append(id: string, offset: number, bytes: Uint8Array): number {
    const file = this.path(id);
    const received = existsSync(file) ? statSync(file).size : 0;
    if (offset !== received) {
      throw new CleaveError("CONFLICT", `upload "${id}" has ${received} bytes; the next chunk must start at offset ${received}, not ${offset}`, {
        upload: id,
        received,
      });
    }
    if (received + bytes.byteLength > this.maxBytes) {
      throw new CleaveError("PAYLOAD_TOO_LARGE", `upload "${id}" would exceed ${this.maxBytes} bytes (modules.registry.maxArtifactBytes)`, {
        limit: this.maxBytes,
      });
    }
    appendFileSync(file, bytes);
    return received + bytes.byteLength;
  }

  read(id: string): Uint8Array {
    const file = this.path(id);
    if (!existsSync(file)) throw notFound(`no upload "${id}" (send its chunks with the upload operation first)`, { upload: id });
    return readFileSync(file);
  }

  remove(id: string) {
    rmSync(this.path(id), { force: true });
  }

  /** Removes uploads nobody finished within the TTL. */
  sweep(ttlSeconds: number): number {
    let removed = 0;
    const cutoff = Date.now() - ttlSeconds * 1000;
    for (const f of readdirSync(this.dir)) {
      const file = join(this.dir, f);
      if (statSync(file).mtimeMs < cutoff) {
        rmSync(file, { force: true });
        removed++;
      }
    }
    return removed;
  }
}
