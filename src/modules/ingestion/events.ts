/**
 * Reading and validating events. The rule for a batch: every event is judged on its own; the valid ones are stored
 * and the others are reported by their index (position in the array, or ordinal of the non-blank NDJSON line) with a
 * reason. Only a body that cannot be split into events at all (broken JSON array, empty body) fails as a whole.
 */
import { type TSchema, Type as T } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { ValueErrorType } from "@sinclair/typebox/errors";
import { CleaveError, invalidArgument } from "../../runtime/errors";
import { fieldName } from "../../runtime/validation";
import type { IngestionConfig } from "./contract";

/** A validated event, ready for the log. */
export interface ValidEvent {
  index: number;
  id: string;
  type: string;
  ts: number;
  data: Record<string, unknown>;
}

export interface Rejection {
  index: number;
  id?: string;
  reason: string;
}

/** A batch item: the parsed value, or why its NDJSON line could not be parsed. */
type Item = { value: unknown } | { parseError: string };

const TOP_KEYS = ["id", "type", "timestamp", "data"];
const MAX_ID = 256;

export function parseBody(body: Uint8Array): Item[] {
  const text = new TextDecoder().decode(body).trim();
  if (text === "") throw invalidArgument("request body is empty: send an event, a JSON array of events or NDJSON");
  if (text.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw invalidArgument(`request body is not a valid JSON array: ${(err as Error).message}`);
    }
    return (parsed as unknown[]).map((value) => ({ value }));
  }
  try {
    return [{ value: JSON.parse(text) }];
  } catch {
    // Not one JSON document: read it as NDJSON, one event per non-blank line.
  }
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line, i) => {
      try {
        return { value: JSON.parse(line) };
      } catch (err) {
        return { parseError: `line ${i + 1} is not valid JSON: ${(err as Error).message}` };
      }
    });
}

/** Parses an event timestamp: epoch milliseconds or an ISO-8601 string with a date. */
export function parseTimestamp(raw: unknown): number | undefined {
  if (typeof raw === "number") return Number.isFinite(raw) && raw >= 0 ? raw : undefined;
  if (typeof raw === "string" && /^\d{4}-\d{2}-\d{2}/.test(raw)) {
    const ms = Date.parse(raw);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

export class EventValidator {
  private readonly checks = new Map<string, TypeCheck<TSchema>>();

  constructor(private readonly config: Pick<IngestionConfig, "eventTypes" | "maxFutureSeconds">) {
    for (const [type, spec] of Object.entries(config.eventTypes)) {
      const props: Record<string, TSchema> = {};
      for (const [name, field] of Object.entries(spec.fields)) {
        const base =
          field.type === "string" ? T.String({ maxLength: 4096 }) :
          field.type === "number" ? T.Number() :
          field.type === "integer" ? T.Integer() : T.Boolean();
        props[name] = field.required === false ? T.Optional(base) : base;
      }
      this.checks.set(type, TypeCompiler.Compile(T.Object(props, { additionalProperties: false })));
    }
  }

  get types(): string[] {
    return [...this.checks.keys()];
  }

  /** Splits a batch into valid events and rejections. `now` bounds timestamps (null: no future check). */
  validate(items: Item[], now: number | null): { valid: ValidEvent[]; rejected: Rejection[] } {
    const valid: ValidEvent[] = [];
    const rejected: Rejection[] = [];
    items.forEach((item, index) => {
      if ("parseError" in item) return rejected.push({ index, reason: item.parseError });
      const result = this.check(item.value, now);
      if (typeof result === "string") {
        const id = (item.value as { id?: unknown })?.id;
        rejected.push(typeof id === "string" ? { index, id, reason: result } : { index, reason: result });
      } else {
        valid.push({ index, ...result });
      }
    });
    return { valid, rejected };
  }

  /** One event: the normalised event, or the reason it is refused. */
  check(raw: unknown, now: number | null): Omit<ValidEvent, "index"> | string {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return "an event must be a JSON object";
    const e = raw as Record<string, unknown>;
    const unknownKey = Object.keys(e).find((k) => !TOP_KEYS.includes(k));
    if (unknownKey) return `unknown key "${unknownKey}"; an event has: ${TOP_KEYS.join(", ")} (fields go in data)`;
    if (e.id === undefined) return "missing id";
    if (typeof e.id !== "string" || e.id.length === 0 || e.id.length > MAX_ID) {
      return `id must be a non-empty string of at most ${MAX_ID} characters`;
    }
    // The id is JetStream's Nats-Msg-Id header on the NATS bus, where a line break cannot go: refused in every placement.
    if (/[\r\n]/.test(e.id)) return "id must not contain a line break";
    if (e.type === undefined) return "missing type";
    const check = typeof e.type === "string" ? this.checks.get(e.type) : undefined;
    if (!check) return `unknown event type ${JSON.stringify(e.type)}; known: ${this.types.join(", ") || "(none configured)"}`;
    if (e.timestamp === undefined) return "missing timestamp";
    const ts = parseTimestamp(e.timestamp);
    if (ts === undefined) {
      return `timestamp ${JSON.stringify(e.timestamp)} is neither an ISO-8601 date-time nor epoch milliseconds`;
    }
    if (now !== null && ts > now + this.config.maxFutureSeconds * 1000) {
      const ahead = Math.round((ts - now) / 1000);
      return `timestamp is ${ahead} s in the future (limit: maxFutureSeconds = ${this.config.maxFutureSeconds})`;
    }
    const data = e.data ?? {};
    if (typeof data !== "object" || data === null || Array.isArray(data)) return "data must be a JSON object";
    if (!check.Check(data)) {
      const first = check.Errors(data).First();
      if (first?.type === ValueErrorType.ObjectAdditionalProperties) {
        const extra = Object.keys(data).find((k) => !(k in this.config.eventTypes[e.type as string].fields));
        return `field "data.${extra}" is not declared for event type "${e.type}"`;
      }
      const path = first ? fieldName(first.path) : "(root)";
      return `field "data.${path}": ${first?.message ?? "invalid"}`;
    }
    return { id: e.id, type: e.type as string, ts, data: data as Record<string, unknown> };
  }
}

export function checkBatchSize(count: number, max: number): void {
  if (count > max) {
    throw new CleaveError(
      "PAYLOAD_TOO_LARGE",
      `batch of ${count} events exceeds the limit of ${max} (modules.ingestion.maxBatchEvents); split it`,
      { count, max },
    );
  }
}
