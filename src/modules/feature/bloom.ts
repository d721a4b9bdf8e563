/**
 * A Bloom filter of the entity keys stored on disk: "definitely not stored" answers without a SQLite lookup, which is
 * the common case for a new card or device. False positives only cost the lookup it would have done anyway.
 */
export class Bloom {
  private readonly bits: Uint32Array;
  private readonly size: number;

  constructor(capacity: number, private readonly hashes = 7) {
    // ~10 bits per key: about 1% false positives at capacity.
    this.size = Math.max(1024, Math.ceil(capacity * 10));
    this.bits = new Uint32Array(Math.ceil(this.size / 32));
  }

  private positions(key: string, visit: (bit: number) => boolean | void): boolean {
    // Two 32-bit FNV-1a variants combined by double hashing (Kirsch–Mitzenmacher).
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    h2 = (h2 ^ (h2 >>> 15)) | 1;
    for (let k = 0; k < this.hashes; k++) {
      if (visit(((h1 + Math.imul(k, h2)) >>> 0) % this.size) === false) return false;
    }
    return true;
  }

  add(key: string): void {
    this.positions(key, (bit) => {
      this.bits[bit >>> 5] |= 1 << (bit & 31);
    });
  }

  mightContain(key: string): boolean {
    return this.positions(key, (bit) => (this.bits[bit >>> 5] & (1 << (bit & 31))) !== 0);
  }
}
