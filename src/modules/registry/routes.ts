/**
 * The registry's REST face, under `/v1/registry/…` so it never meets the inference routes (`/v2/models/…`,
 * `/v1/models/{name}:predict`). Until authentication exists the caller names itself with the `x-cleave-actor` and
 * `x-cleave-roles` headers (or an `actor` in a JSON body); with authentication the verified identity wins.
 */
import type { HttpRequestView, RouteDef } from "../../runtime/contract";
import { CleaveError } from "../../runtime/errors";

const BASE = "/v1/registry";

/** `3` → 3; anything else goes through unchanged so the schema check names the field. */
const int = (s: string | undefined) => (s !== undefined && /^[0-9]{1,15}$/.test(s) ? Number(s) : s);

function headerActor(req: HttpRequestView) {
  const id = req.header("x-cleave-actor");
  if (!id) return undefined;
  const roles = (req.header("x-cleave-roles") ?? "").split(",").map((r) => r.trim()).filter(Boolean);
  return { id, roles };
}

function jsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CleaveError("INVALID_ARGUMENT", `${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new CleaveError("INVALID_ARGUMENT", `${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

const body = (req: HttpRequestView) => (req.body && typeof req.body === "object" ? (req.body as Record<string, unknown>) : {});

/** JSON body + path params + the header actor (a body `actor` wins). */
const withActor = (req: HttpRequestView, extra: Record<string, unknown>) => {
  const b = body(req);
  const actor = b.actor ?? headerActor(req);
  return { ...b, ...extra, ...(actor ? { actor } : {}) };
};

/**
 * Push: either the raw ONNX bytes as the body (metadata as JSON in the `x-cleave-metadata` header), or a JSON body
 * `{upload, …metadata}` naming a chunked upload made with PUT /v1/registry/uploads/{id}.
 */
function pushInput(req: HttpRequestView) {
  const raw = req.body as Uint8Array;
  const type = req.header("content-type") ?? "";
  const metadata = req.header("x-cleave-metadata");
  const meta = type.includes("application/json")
    ? jsonObject(new TextDecoder().decode(raw), "the request body")
    : { ...(metadata ? jsonObject(metadata, "header x-cleave-metadata") : {}), bytes: raw };
  const actor = meta.actor ?? headerActor(req);
  return { ...meta, model: req.params.name, ...(actor ? { actor } : {}) };
}

export const registryRoutes: RouteDef[] = [
  { method: "GET", path: `${BASE}/models`, operation: "listModels", toInput: () => ({}) },
  { method: "GET", path: `${BASE}/policy`, operation: "policy", toInput: () => ({}) },
  { method: "GET", path: `${BASE}/models/:name`, operation: "getModel", toInput: (r) => ({ model: r.params.name }) },
  {
    method: "POST",
    path: `${BASE}/models/:name/versions`,
    operation: "push",
    body: "raw",
    summary:
      "Registers a version. Body: the ONNX file (application/octet-stream; metadata as JSON in header x-cleave-metadata) " +
      "or JSON {upload, metrics, tags, lineage, baseline, columns, signature, description} after chunked uploads. " +
      "201 when created, 200 when these bytes already were a version.",
    toInput: pushInput,
    toResponse: (out, res, req) => {
      res.status = out.created ? 201 : 200;
      res.headers.location = `${BASE}/models/${req.params.name}/versions/${out.version.version}`;
      return out;
    },
  },
  {
    method: "PUT",
    path: `${BASE}/uploads/:upload`,
    operation: "upload",
    body: "raw",
    summary: "Appends the body (raw bytes) to upload {upload} at byte ?offset= (must equal the bytes received so far)",
    toInput: (r) => ({ upload: r.params.upload, offset: int(r.query.offset ?? "0"), bytes: r.body }),
  },
  {
    method: "GET",
    path: `${BASE}/models/:name/versions/:ref`,
    operation: "resolve",
    summary: "A version by number, or the version an alias points at (e.g. /versions/champion)",
    toInput: (r) => ({ model: r.params.name, ref: r.params.ref }),
  },
  {
    method: "POST",
    path: `${BASE}/models/:name/versions/:version/approve`,
    operation: "approve",
    toInput: (r) => withActor(r, { model: r.params.name, version: int(r.params.version) }),
  },
  {
    method: "POST",
    path: `${BASE}/models/:name/versions/:version/verify`,
    operation: "verify",
    body: "none",
    toInput: (r) => ({ model: r.params.name, version: int(r.params.version) }),
  },
  {
    method: "PUT",
    path: `${BASE}/models/:name/aliases/:alias`,
    operation: "setAlias",
    summary: "Points an alias at a version. Body: {version, reason}",
    toInput: (r) => withActor(r, { model: r.params.name, alias: r.params.alias }),
  },
  {
    method: "DELETE",
    path: `${BASE}/models/:name/aliases/:alias`,
    operation: "deleteAlias",
    summary: "Removes an alias (?reason= says why)",
    toInput: (r) => withActor(r, { model: r.params.name, alias: r.params.alias, ...(r.query.reason ? { reason: r.query.reason } : {}) }),
  },
  {
    method: "POST",
    path: `${BASE}/models/:name/aliases/:alias/rollback`,
    operation: "rollbackAlias",
    toInput: (r) => withActor(r, { model: r.params.name, alias: r.params.alias }),
  },
  {
    method: "GET",
    path: `${BASE}/models/:name/aliases/:alias/history`,
    operation: "aliasHistory",
    summary: "Every move of an alias, newest first (?limit=)",
    toInput: (r) => ({ model: r.params.name, alias: r.params.alias, ...(r.query.limit ? { limit: int(r.query.limit) } : {}) }),
  },
];
