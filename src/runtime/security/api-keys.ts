/**
 * API keys: `clv_<id>_<secret>` with 256 random bits of secret. Only a SHA-256 of the whole key is stored (a slow
 * hash such as scrypt protects guessable passwords; a key this random cannot be guessed, and a fast hash keeps
 * every request cheap). The file belongs to the runtime, under `dataDir/auth/keys.db`, shared by every process of a
 * deployment that serves the gateway; revocations are seen by them within `REFRESH_MS`.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Identity } from "../contract";
import { type Db, openDatabase } from "../native/sqlite";

export const KEY_PREFIX = "clv_";
const REFRESH_MS = 1000;

export interface ApiKeyInfo {
  id: string;
  name: string;
  roles: string[];
  createdAt: string;
  revokedAt: string | null;
}

const MIGRATIONS = [
  `CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     hash TEXT NOT NULL UNIQUE,
     name TEXT NOT NULL,
     roles TEXT NOT NULL,
     created_at TEXT NOT NULL,
     revoked_at TEXT
   )`,
];

export const hashKey = (key: string) => new Bun.CryptoHasher("sha256").update(key).digest("hex");

export function keyStorePath(dataDir: string): string {
  return join(dataDir, "auth", "keys.db");
}

export class ApiKeyStore {
  private readonly db: Db;
  /** hash → identity of the active keys, reloaded when the table changed (data_version) at most every REFRESH_MS. */
  private active = new Map<string, Identity>();
  private checkedAt = 0;
  private version = -1;

  constructor(file: string) {
    mkdirSync(join(file, ".."), { recursive: true, mode: 0o700 });
    this.db = openDatabase(file, { migrations: MIGRATIONS });
    this.reload();
  }

  create(name: string, roles: string[], key = `${KEY_PREFIX}${randomBytes(6).toString("hex")}_${randomBytes(32).toString("base64url")}`) {
    const id = key.startsWith(KEY_PREFIX) ? key.slice(KEY_PREFIX.length).split("_")[0] : randomBytes(6).toString("hex");
    this.db
      .prepare("INSERT INTO api_keys (id, hash, name, roles, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(id, hashKey(key), name, JSON.stringify(roles), new Date().toISOString());
    this.reload();
    return { id, key };
  }

  list(): ApiKeyInfo[] {
    const rows = this.db.prepare("SELECT id, name, roles, created_at, revoked_at FROM api_keys ORDER BY created_at").all() as any[];
    return rows.map((r) => ({ id: r.id, name: r.name, roles: JSON.parse(r.roles), createdAt: r.created_at, revokedAt: r.revoked_at }));
  }

  /** Revokes by id or by name; returns how many keys it revoked. */
  revoke(idOrName: string): number {
    const { changes } = this.db
      .prepare("UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR name = ?) AND revoked_at IS NULL")
      .run(new Date().toISOString(), idOrName, idOrName);
    this.reload();
    return changes;
  }

  count(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM api_keys").get() as { n: number }).n;
  }

  /** The identity of an active key, or undefined. */
  lookup(key: string): Identity | undefined {
    const now = Date.now();
    if (now - this.checkedAt > REFRESH_MS) {
      this.checkedAt = now;
      if (this.db.pragma("data_version", { simple: true }) !== this.version) this.reload();
    }
    return this.active.get(hashKey(key));
  }

  private reload() {
    const rows = this.db.prepare("SELECT id, hash, name, roles FROM api_keys WHERE revoked_at IS NULL").all() as any[];
    this.active = new Map(rows.map((r) => [r.hash, { id: `key:${r.name}`, roles: JSON.parse(r.roles) }]));
    this.version = this.db.pragma("data_version", { simple: true }) as number;
  }

  close() {
    this.db.close();
  }
}
