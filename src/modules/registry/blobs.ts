/**
 * Content-addressed artifact storage: `blobs/sha256/<2 hex>/<64 hex>`. A blob is written to a temp file in the
 * same file system, fsynced, renamed into place and its directory fsynced, so after a crash a blob path holds
 * either the complete bytes or nothing. Identical uploads land on the same path and are stored once.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { createHash, randomUUID } from "node:crypto";
import { join } from "node:path";

export class BlobStore {
  private readonly root: string;
  private readonly tmp: string;

  constructor(dir: string) {
    this.root = join(dir, "sha256");
    this.tmp = join(dir, "tmp");
    mkdirSync(this.root, { recursive: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  pathOf(digest: string): string {
    const hex = digest.slice("sha256:".length);
    return join(this.root, hex.slice(0, 2), hex);
  }

  has(digest: string): boolean {
    return existsSync(this.pathOf(digest));
  }

  /**
   * Stores bytes whose digest the caller computed. A blob already present is kept only if it still hashes to its
   * digest: a modified copy is replaced rather than silently shared with a new version.
   */
  put(digest: string, bytes: Uint8Array): void {
    const final = this.pathOf(digest);
    if (this.actualDigest(digest) === digest) return;
    const dir = join(final, "..");
    mkdirSync(dir, { recursive: true });
    const temp = join(this.tmp, randomUUID());
    const fd = openSync(temp, "w", 0o644);
    try {
      for (let off = 0; off < bytes.byteLength; ) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, final);
    fsyncDir(dir);
  }

  read(digest: string): Uint8Array {
    return readFileSync(this.pathOf(digest));
  }

  /** Reads `length` bytes from `offset` (fewer at the end). */
  readRange(digest: string, offset: number, length: number): Uint8Array {
    const fd = openSync(this.pathOf(digest), "r");
    try {
      const size = statSync(this.pathOf(digest)).size;
      const n = Math.max(0, Math.min(length, size - offset));
      const out = new Uint8Array(n);
      for (let got = 0; got < n; ) {
        const r = readSync(fd, out, got, n - got, offset + got);
        if (r === 0) break;
        got += r;
      }
      return out;
    } finally {
      closeSync(fd);
    }
  }

  size(digest: string): number {
    return statSync(this.pathOf(digest)).size;
  }

  /** sha256 of what is on disk now, or null when the blob is gone: how tampering is detected. */
  actualDigest(digest: string): string | null {
    if (!this.has(digest)) return null;
    return `sha256:${createHash("sha256").update(readFileSync(this.pathOf(digest))).digest("hex")}`;
  }

  /**
   * At start, before serving: drop temp files of writes a crash interrupted, and blobs no version references
   * (renamed into place but the crash came before their version row committed).
   */
  sweep(referenced: Set<string>): { temps: number; orphans: number } {
    let temps = 0;
    let orphans = 0;
    for (const f of readdirSync(this.tmp)) {
      rmSync(join(this.tmp, f), { force: true });
      temps++;
    }
    for (const prefix of readdirSync(this.root)) {
      for (const hex of readdirSync(join(this.root, prefix))) {
        if (!referenced.has(`sha256:${hex}`)) {
          rmSync(join(this.root, prefix, hex), { force: true });
          orphans++;
        }
      }
    }
    return { temps, orphans };
  }
}

function fsyncDir(dir: string) {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
