/**
 * `cleave features export`: a point-in-time-correct training set from an event log and a label file, computed by the
 * feature module's own engine (the code online serving runs), with the events validated and deduplicated by the
 * ingestion module's own rules — so a training row equals what serving would have answered at that moment.
 */
import { readFileSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { builtinModules } from "../modules/catalog";
import type { FeatureConfig } from "../modules/feature/contract";
import { compilePlan, type FeaturePlan } from "../modules/feature/definitions";
import type { EngineEvent } from "../modules/feature/engine";
import { pointInTimeVectors, type LabelRow } from "../modules/feature/offline";
import type { IngestionConfig } from "../modules/ingestion/contract";
import { EventValidator, parseBody, parseTimestamp } from "../modules/ingestion/events";
import { loadDeployment } from "../runtime/plugins";
import { CliError, parse } from "./args";
import { csvCell, parseCsv } from "./csv";

const USAGE = `cleave features export --config FILE --events FILE --labels FILE --out FILE [--format csv]
  --events  NDJSON or JSON array of events in the order they were ingested, or the ingestion log (log.sqlite)
  --labels  CSV with a header (or NDJSON): timestamp, label, one column per entity name, request fields`;

export async function featuresCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "export") throw new CliError(`usage: ${USAGE}`);
  const { values } = parse(rest, {
    config: { type: "string", short: "c" },
    events: { type: "string" },
    labels: { type: "string" },
    out: { type: "string" },
    format: { type: "string", default: "csv" },
  });
  for (const k of ["config", "events", "labels", "out"] as const) {
    if (!values[k]) throw new CliError(`--${k} is required\nusage: ${USAGE}`);
  }
  if (values.format !== "csv") throw new CliError(`--format "${values.format}" is not supported; use csv`);
  const { config } = await loadDeployment(values.config!, builtinModules);
  const ingestion = config.modules.ingestion as IngestionConfig | undefined;
  const feature = config.modules.feature as FeatureConfig | undefined;
  if (!ingestion || !feature) throw new CliError(`the config must declare modules.ingestion and modules.feature`);
  const plan = compilePlan(feature, ingestion.eventTypes);

  const { events, invalid, duplicates } = readEvents(values.events!, new EventValidator(ingestion));
  const { header, rows, labels } = readLabels(values.labels!, plan);
  const result = pointInTimeVectors(plan, events, labels);
  const lines = [[...header, ...plan.names].map(csvCell).join(",")];
  rows.forEach((raw, i) => lines.push([...raw, ...result.values[i]].map(csvCell).join(",")));
  writeFileSync(values.out!, `${lines.join("\n")}\n`);
  console.error(
    `cleave: wrote ${rows.length} rows × ${plan.names.length} features to ${values.out} ` +
      `(events: ${events.length} used, ${invalid} invalid, ${duplicates} duplicate, ${result.lateDropped} too late)`,
  );
  return 0;
}

function readEvents(file: string, validator: EventValidator): { events: EngineEvent[]; invalid: number; duplicates: number } {
  if (file.endsWith(".sqlite")) {
    // The ingestion log itself: already validated and deduplicated, with its own seq order.
    const db = new Database(file, { readonly: true });
    const rows = db.prepare("SELECT seq, type, ts, data FROM events ORDER BY seq").all() as
      { seq: number; type: string; ts: number; data: string }[];
    db.close();
    return { events: rows.map((r) => ({ ...r, data: JSON.parse(r.data) })), invalid: 0, duplicates: 0 };
  }
  const items = parseBody(readFileSync(file));
  const { valid, rejected } = validator.validate(items, null);
  const seen = new Set<string>();
  const events: EngineEvent[] = [];
  for (const e of valid) {
    if (seen.has(e.id)) continue; // the first occurrence of an id is the one ingestion stored
    seen.add(e.id);
    events.push({ seq: events.length + 1, type: e.type, ts: e.ts, data: e.data });
  }
  return { events, invalid: rejected.length, duplicates: valid.length - events.length };
}

function readLabels(file: string, plan: FeaturePlan): { header: string[]; rows: string[][]; labels: LabelRow[] } {
  const text = readFileSync(file, "utf8");
  let header: string[];
  let rows: string[][];
  if (file.endsWith(".csv")) {
    [header, ...rows] = parseCsv(text);
    if (!header) throw new CliError(`${file} is empty`);
  } else {
    const objects = text.split("\n").filter((l) => l.trim()).map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new CliError(`${file} line ${i + 1} is not valid JSON`);
      }
    });
    header = [...new Set(objects.flatMap((o) => Object.keys(o)))];
    rows = objects.map((o) => header.map((h) => (o[h] === undefined || o[h] === null ? "" : String(o[h]))));
  }
  const col = (name: string) => header.indexOf(name);
  if (col("timestamp") < 0) throw new CliError(`${file} has no "timestamp" column (columns: ${header.join(", ")})`);
  const entityCols = plan.entities.filter((e) => col(e.name) >= 0);
  if (entityCols.length === 0) {
    throw new CliError(`${file} names no entity column; expected one of: ${plan.entities.map((e) => e.name).join(", ")}`);
  }
  const labels = rows.map((r, i): LabelRow => {
    const where = `${file} row ${i + 1}`;
    const raw = r[col("timestamp")];
    const ts = parseTimestamp(/^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw);
    if (ts === undefined) throw new CliError(`${where}: timestamp "${raw}" is neither ISO-8601 nor epoch ms`);
    const entities: Record<string, string> = {};
    for (const e of entityCols) if (r[col(e.name)] !== "") entities[e.name] = r[col(e.name)];
    const request: Record<string, unknown> = {};
    for (const f of plan.request) {
      const cell = col(f.name) >= 0 ? r[col(f.name)] : "";
      if (cell === "") continue;
      const v = f.type === "number" ? Number(cell) : f.type === "boolean" ? cell === "true" : cell;
      if (f.type === "number" && !Number.isFinite(v)) throw new CliError(`${where}: ${f.name} "${cell}" is not a number`);
      request[f.name] = v;
    }
    return { ts, entities, request };
  });
  return { header, rows, labels };
}
