/**
 * `cleave models …`: the registry from a terminal, talking REST to a running deployment (`--url`, else
 * $CLEAVE_URL, else http://127.0.0.1:8080). Pushes always go as chunked uploads so they work whichever process
 * serves the registry. Until authentication exists the caller is named by --actor/--roles ($CLEAVE_ACTOR,
 * $CLEAVE_ROLES; default: $USER with no roles).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { generateSigningKey, keyId, publicKeyOf, sha256Digest, signDigest, SigningError } from "../runtime/signing";
import { CliError, parse } from "./args";

const USAGE = `Usage: cleave models COMMAND [--url URL] [--actor ID] [--roles a,b] [--json]
  push FILE --name NAME [--metrics k=v,…] [--tags k=v,…] [--meta FILE.json] [--description TEXT] [--sign KEYFILE]
  list
  show NAME [VERSION|ALIAS]
  approve NAME VERSION [--reason TEXT]
  alias set NAME ALIAS VERSION [--reason TEXT]
  alias rm NAME ALIAS [--reason TEXT]
  rollback NAME ALIAS [--reason TEXT]
  history NAME ALIAS [--limit N]
  verify NAME VERSION            exit 1 when the artifact was modified or its signature does not hold
  keygen --out PREFIX            write PREFIX.key (private, keep secret) and PREFIX.pub`;

const CHUNK = 512 * 1024;

const OPTIONS = {
  url: { type: "string" },
  actor: { type: "string" },
  roles: { type: "string" },
  json: { type: "boolean" },
  name: { type: "string", short: "n" },
  metrics: { type: "string" },
  tags: { type: "string" },
  meta: { type: "string" },
  description: { type: "string" },
  sign: { type: "string" },
  reason: { type: "string" },
  limit: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parse<typeof OPTIONS>>["values"];

class Client {
  constructor(
    private readonly base: string,
    private readonly actor: Record<string, string>,
  ) {}

  async call(method: string, path: string, body?: { json?: unknown; raw?: Uint8Array }): Promise<any> {
    const headers: Record<string, string> = { ...this.actor };
    // With auth on, the deployment knows the caller from its key; the actor headers then count for nothing.
    if (process.env.CLEAVE_API_KEY) headers.authorization = `Bearer ${process.env.CLEAVE_API_KEY}`;
    let payload: Uint8Array | string | undefined;
    if (body?.raw) {
      headers["content-type"] = "application/octet-stream";
      payload = body.raw;
    } else if (body?.json !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body.json);
    }
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body: payload });
    } catch (err) {
      throw new CliError(`cannot reach Cleave at ${this.base} (--url or $CLEAVE_URL): ${(err as Error).message}`, 1);
    }
    const text = await res.text();
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    if (!res.ok) throw new CliError(`${parsed?.error ?? text} (HTTP ${res.status})`, 1);
    return parsed;
  }
}

/** `auc=0.91,f1=0.8` → {auc: 0.91, f1: 0.8}; numbers for metrics, strings for tags. */
function pairs(text: string | undefined, what: string, asNumber: boolean): Record<string, number | string> | undefined {
  if (text === undefined) return undefined;
  const out: Record<string, number | string> = {};
  for (const item of text.split(",").filter(Boolean)) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new CliError(`--${what}: "${item}" is not key=value`);
    const key = item.slice(0, eq).trim();
    const raw = item.slice(eq + 1).trim();
    if (asNumber) {
      const n = Number(raw);
      if (raw === "" || !Number.isFinite(n)) throw new CliError(`--${what}: "${key}" must be a number, got "${raw}"`);
      out[key] = n;
    } else out[key] = raw;
  }
  return out;
}

function readFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new CliError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function need(args: string[], count: number, usage: string): string[] {
  if (args.length !== count) throw new CliError(`usage: cleave models ${usage}`);
  return args;
}

async function pushCommand(client: Client, args: string[], v: Values) {
  const [file] = need(args, 1, "push FILE --name NAME");
  if (!v.name) throw new CliError("push needs --name NAME (the registered model's name)");
  const bytes = readFile(file, "model file");
  const meta: Record<string, unknown> = v.meta ? JSON.parse(new TextDecoder().decode(readFile(v.meta, "metadata file"))) : {};
  const metrics = pairs(v.metrics, "metrics", true);
  const tags = pairs(v.tags, "tags", false);
  if (metrics) meta.metrics = { ...(meta.metrics as object), ...metrics };
  if (tags) meta.tags = { ...(meta.tags as object), ...tags };
  if (v.description) meta.description = v.description;
  if (v.sign) {
    const privateKey = new TextDecoder().decode(readFile(v.sign, "signing key")).trim();
    try {
      meta.signature = { publicKey: publicKeyOf(privateKey), value: signDigest(sha256Digest(bytes), privateKey) };
    } catch (err) {
      if (err instanceof SigningError) throw new CliError(`--sign ${v.sign}: ${err.message}`);
      throw err;
    }
  }
  const upload = crypto.randomUUID();
  for (let offset = 0; offset < bytes.byteLength || offset === 0; offset += CHUNK) {
    await client.call("PUT", `/v1/registry/uploads/${upload}?offset=${offset}`, { raw: bytes.subarray(offset, offset + CHUNK) });
    if (bytes.byteLength === 0) break;
  }
  return client.call("POST", `/v1/registry/models/${encodeURIComponent(v.name)}/versions`, { json: { ...meta, upload } });
}

const m = (name: string) => `/v1/registry/models/${encodeURIComponent(name)}`;

function describeVersion(r: any): string {
  const io = (list: any[]) => list.map((t) => `${t.name}:${t.type}${t.shape ? `[${t.shape.map((d: unknown) => d ?? "?").join(",")}]` : ""}`).join(" ");
  return [
    `${r.name} version ${r.version}${r.aliases.length ? ` (@${r.aliases.join(", @")})` : ""}`,
    `  digest   ${r.digest} (${r.size} bytes)`,
    `  created  ${r.createdAt} by ${r.createdBy}`,
    `  approved ${r.approved ? `${r.approvedAt} by ${r.approvedBy}` : "no"}`,
    `  signed   ${r.signature ? `ed25519 key ${r.signature.keyId}` : "no"}`,
    `  inputs   ${io(r.tensors.inputs)}`,
    `  outputs  ${io(r.tensors.outputs)}`,
    ...(Object.keys(r.metrics).length ? [`  metrics  ${Object.entries(r.metrics).map(([k, x]) => `${k}=${x}`).join(" ")}`] : []),
  ].join("\n");
}

const describeMove = (h: any) =>
  `${h.at}  ${h.model}@${h.alias}  ${h.action.padEnd(8)} ${h.fromVersion ?? "-"} → ${h.toVersion ?? "-"}  by ${h.actor}${h.reason ? `: ${h.reason}` : ""}`;

export async function modelsCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv, OPTIONS);
  const [command, ...args] = positionals;
  if (v.help || !command) {
    console.log(USAGE);
    return command || v.help ? 0 : 2;
  }
  const base = (v.url ?? process.env.CLEAVE_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
  const actorId = v.actor ?? process.env.CLEAVE_ACTOR ?? process.env.USER ?? "cli";
  const roles = v.roles ?? process.env.CLEAVE_ROLES ?? "";
  const client = new Client(base, { "x-cleave-actor": actorId, "x-cleave-roles": roles });
  const reason = v.reason !== undefined ? { reason: v.reason } : {};
  let out: any;
  let text: string;
  switch (command) {
    case "push": {
      out = await pushCommand(client, args, v);
      text = `${out.created ? "created" : "already registered as"} ${out.version.name} version ${out.version.version} (${out.version.digest})`;
      break;
    }
    case "list": {
      out = await client.call("GET", "/v1/registry/models");
      text = out.models.length
        ? out.models
            .map((x: any) => `${x.name}  versions ${x.versions}  latest ${x.latestVersion}  ${Object.entries(x.aliases).map(([a, n]) => `@${a}=${n}`).join(" ")}`)
            .join("\n")
        : "no models registered";
      break;
    }
    case "show": {
      if (args.length === 2) {
        out = await client.call("GET", `${m(args[0])}/versions/${encodeURIComponent(args[1])}`);
        text = describeVersion(out);
      } else {
        const [name] = need(args, 1, "show NAME [VERSION|ALIAS]");
        out = await client.call("GET", m(name));
        text = out.versions.map(describeVersion).join("\n");
      }
      break;
    }
    case "approve": {
      const [name, version] = need(args, 2, "approve NAME VERSION");
      out = await client.call("POST", `${m(name)}/versions/${encodeURIComponent(version)}/approve`, { json: reason });
      text = `approved ${out.name} version ${out.version} (by ${out.approvedBy})`;
      break;
    }
    case "alias": {
      const [sub, ...rest] = args;
      if (sub === "set") {
        const [name, alias, version] = need(rest, 3, "alias set NAME ALIAS VERSION");
        const n = Number(version);
        out = await client.call("PUT", `${m(name)}/aliases/${encodeURIComponent(alias)}`, { json: { version: Number.isInteger(n) ? n : version, ...reason } });
      } else if (sub === "rm") {
        const [name, alias] = need(rest, 2, "alias rm NAME ALIAS");
        const q = v.reason ? `?reason=${encodeURIComponent(v.reason)}` : "";
        out = await client.call("DELETE", `${m(name)}/aliases/${encodeURIComponent(alias)}${q}`);
      } else throw new CliError("usage: cleave models alias set NAME ALIAS VERSION | alias rm NAME ALIAS");
      text = describeMove(out);
      break;
    }
    case "rollback": {
      const [name, alias] = need(args, 2, "rollback NAME ALIAS");
      out = await client.call("POST", `${m(name)}/aliases/${encodeURIComponent(alias)}/rollback`, { json: reason });
      text = describeMove(out);
      break;
    }
    case "history": {
      const [name, alias] = need(args, 2, "history NAME ALIAS");
      const q = v.limit ? `?limit=${encodeURIComponent(v.limit)}` : "";
      out = await client.call("GET", `${m(name)}/aliases/${encodeURIComponent(alias)}/history${q}`);
      text = out.history.map(describeMove).join("\n");
      break;
    }
    case "verify": {
      const [name, version] = need(args, 2, "verify NAME VERSION");
      out = await client.call("POST", `${m(name)}/versions/${encodeURIComponent(version)}/verify`);
      text = out.ok
        ? `ok: ${out.name} version ${out.version} matches ${out.digest}; signature ${out.signature}`
        : `FAILED: ${out.name} version ${out.version}\n${out.problems.map((p: string) => `  - ${p}`).join("\n")}`;
      console.log(v.json ? JSON.stringify(out, null, 2) : text);
      return out.ok ? 0 : 1;
    }
    case "keygen": {
      if (!v.out) throw new CliError("keygen needs --out PREFIX (writes PREFIX.key and PREFIX.pub)");
      const key = generateSigningKey();
      writeFileSync(`${v.out}.key`, `${key.privateKey}\n`, { mode: 0o600 });
      writeFileSync(`${v.out}.pub`, `${key.publicKey}\n`);
      out = { keyId: keyId(key.publicKey), publicKey: key.publicKey, privateKeyFile: `${v.out}.key`, publicKeyFile: `${v.out}.pub` };
      text = [
        `wrote ${v.out}.key (private: keep it secret) and ${v.out}.pub; key id ${out.keyId}`,
        "trust it in the config:",
        "  modules:",
        "    registry:",
        "      signatures:",
        `        trustedKeys: [{ publicKey: "${key.publicKey}" }]`,
      ].join("\n");
      break;
    }
    default:
      throw new CliError(`unknown models command "${command}"\n${USAGE}`);
  }
  console.log(v.json ? JSON.stringify(out, null, 2) : text);
  return 0;
}
