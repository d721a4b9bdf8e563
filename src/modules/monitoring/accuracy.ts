/**
 * Live accuracy: predictions (score by decision/event id) are kept so that true labels arriving later can be
 * joined to them; precision, recall and AUC are computed over each model version's last N labelled predictions.
 */
import type { Static } from "@sinclair/typebox";
import type { Logger } from "../../runtime/log";
import type { Db } from "../../runtime/native/sqlite";
import { encodeRow, SqliteWriter } from "../../runtime/native/sqlite-writer";
import type { AccuracySchema, Observation } from "./contract";

export type Accuracy = Static<typeof AccuracySchema>;

export const ACCURACY_MIGRATIONS = [
  `CREATE TABLE predictions (id TEXT PRIMARY KEY, model TEXT NOT NULL, version TEXT NOT NULL, score REAL NOT NULL,
     ts INTEGER NOT NULL)`,
  `CREATE TABLE labels (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, model TEXT NOT NULL,
     version TEXT NOT NULL, score REAL NOT NULL, label INTEGER NOT NULL, ts INTEGER NOT NULL);
   CREATE INDEX labels_by_version ON labels (model, version, seq)`,
];

export interface LabelInput {
  decisionId?: string;
  eventId?: string;
  label: boolean | 0 | 1;
}

export interface LabelOutcome {
  matched: number;
  unknown: number;
  unknownIds: string[];
  invalid: number;
  /** model@version pairs whose accuracy moved. */
  touched: { model: string; version: string }[];
}

const predictionIds = (o: { decisionId?: string; eventId?: string }) => {
  const ids: string[] = [];
  if (o.decisionId !== undefined) ids.push(`d:${o.decisionId}`);
  if (o.eventId !== undefined) ids.push(`e:${o.eventId}`);
  return ids;
};

export const HISTOGRAM_EDGES = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

export function scoreHistogram(scores: Iterable<number>): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const s of scores) {
    if (!(s >= 0 && s <= 1)) continue;
    counts[Math.min(9, Math.floor(s * 10))]++;
  }
  return counts;
}

/** Area under the ROC curve by the Mann–Whitney U statistic, tied scores sharing their average rank. */
export function auc(rows: { score: number; label: number }[]): number | null {
  const pos = rows.filter((r) => r.label === 1).length;
  const neg = rows.length - pos;
  if (pos === 0 || neg === 0) return null;
  const sorted = [...rows].sort((a, b) => a.score - b.score);
  let rankSumPos = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j].score === sorted[i].score) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (sorted[k].label === 1) rankSumPos += avgRank;
    i = j;
  }
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

const FLUSH_MS = 20;
const FLUSH_ROWS = 1000;

const INSERT_PREDICTION = 0;
const TRIM_PREDICTIONS = 1;

/**
 * Predictions are written by a SqliteWriter thread (a score's prediction is two rows: by decision id and by event
 * id; inserting them was ~5% of the event loop at saturation). Matching labels reads this thread's connection
 * after the predictions already recorded have committed.
 */
export class AccuracyTracker {
  private readonly writer: SqliteWriter;
  private readonly findPrediction;
  private readonly upsertLabel;
  private inserted = 0;
  /** Settles once every batch sent so far has been answered. */
  private written: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    file: string,
    private readonly cfg: { window: number; threshold: number; retainPredictions: number },
    private readonly log: Logger,
  ) {
    this.writer = new SqliteWriter(file, "NORMAL", [
      "INSERT OR REPLACE INTO predictions (id, model, version, score, ts) VALUES (?, ?, ?, ?, ?)",
      "DELETE FROM predictions WHERE rowid <= (SELECT MAX(rowid) FROM predictions) - ?",
    ]);
    this.findPrediction = db.prepare("SELECT model, version, score FROM predictions WHERE id = ?");
    this.upsertLabel = db.prepare(
      `INSERT INTO labels (id, model, version, score, label, ts) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET label = excluded.label, ts = excluded.ts`,
    );
  }

  /** Predictions waiting for the next group commit: one transaction per few ms, not one per observation. */
  private pending: (Observation & { at: number })[] = [];
  private flushTimer: ReturnType<typeof setTimeout> | undefined;

  /** Keeps the scored observations that carry an id, for labels to find later. */
  record(observations: (Observation & { at: number })[]): void {
    for (const o of observations) {
      if (o.score !== undefined && (o.decisionId !== undefined || o.eventId !== undefined)) this.pending.push(o);
    }
    if (this.pending.length >= FLUSH_ROWS) this.flush();
    else if (this.pending.length && !this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Sends the pending predictions to the writer (also before labels are matched and at stop, so nothing is missed). */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const rows = this.pending;
    if (rows.length === 0) return;
    this.pending = [];
    const lines: string[] = [];
    for (const o of rows) for (const id of predictionIds(o)) lines.push(encodeRow([id, o.model, o.version, o.score, o.at]));
    this.send(INSERT_PREDICTION, lines.join("\n"), rows.length);
    this.inserted += rows.length;
    if (this.inserted >= 10_000) {
      this.inserted = 0;
      this.send(TRIM_PREDICTIONS, encodeRow([this.cfg.retainPredictions]), 0);
    }
  }

  private send(statement: number, lines: string, predictions: number): void {
    // Predictions only serve labels that may come later: a batch that cannot be written is logged and dropped, as
    // it was when the insert ran here.
    const sent = this.writer.write(statement, lines).catch((err) => this.log.error({ err, predictions }, "predictions not stored"));
    this.written = Promise.all([this.written, sent]);
  }

  /** Writes what is pending, then stops the writer. */
  async close(): Promise<void> {
    this.flush();
    await this.written;
    await this.writer.close();
  }

  async label(labels: LabelInput[]): Promise<LabelOutcome> {
    this.flush();
    await this.written;
    const out: LabelOutcome = { matched: 0, unknown: 0, unknownIds: [], invalid: 0, touched: [] };
    const touched = new Map<string, { model: string; version: string }>();
    const now = Date.now();
    this.db.transaction(() => {
      for (const l of labels) {
        const ids = predictionIds(l);
        if (ids.length === 0) {
          out.invalid++;
          continue;
        }
        const found = ids
          .map((id) => ({ id, row: this.findPrediction.get(id) as { model: string; version: string; score: number } | undefined }))
          .find((x) => x.row);
        if (!found?.row) {
          out.unknown++;
          if (out.unknownIds.length < 100) out.unknownIds.push(l.decisionId ?? l.eventId!);
          continue;
        }
        const { model, version, score } = found.row;
        this.upsertLabel.run(found.id, model, version, score, l.label === true || l.label === 1 ? 1 : 0, now);
        out.matched++;
        touched.set(`${model}@${version}`, { model, version });
      }
    })();
    out.touched = [...touched.values()];
    return out;
  }

  versionsOf(model: string): string[] {
    return (this.db.prepare("SELECT DISTINCT version FROM labels WHERE model = ?").all(model) as { version: string }[]).map((r) => r.version);
  }

  accuracy(model: string, version: string, currentScores: number[]): Accuracy {
    const rows = this.db
      .prepare("SELECT score, label FROM labels WHERE model = ? AND version = ? ORDER BY seq DESC LIMIT ?")
      .all(model, version, this.cfg.window) as { score: number; label: number }[];
    const t = this.cfg.threshold;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const r of rows) {
      const predicted = r.score >= t;
      if (predicted && r.label === 1) tp++;
      else if (predicted) fp++;
      else if (r.label === 1) fn++;
    }
    return {
      model,
      version,
      labelled: rows.length,
      positives: tp + fn,
      threshold: t,
      precision: tp + fp ? tp / (tp + fp) : null,
      recall: tp + fn ? tp / (tp + fn) : null,
      auc: auc(rows),
      scoreHistogram: {
        edges: HISTOGRAM_EDGES,
        current: scoreHistogram(currentScores),
        positives: scoreHistogram(rows.filter((r) => r.label === 1).map((r) => r.score)),
        negatives: scoreHistogram(rows.filter((r) => r.label === 0).map((r) => r.score)),
      },
    };
  }
}
