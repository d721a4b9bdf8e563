/** The summary `cleave demo` prints: outcomes, errors, precision/recall against the simulator's truth, latency. */
export interface Scored {
  id: string;
  label: 0 | 1;
  pattern: string;
  status: number;
  decision?: string;
  error?: string;
  ms: number;
}

export function summarizeDemo(results: Scored[], seconds: number, percentile: (sorted: number[], p: number) => number): string {
  const ok = results.filter((r) => r.status === 200);
  const count = (d: string) => ok.filter((r) => r.decision === d).length;
  const flagged = (r: Scored) => r.decision === "block" || r.decision === "review";
  const confusion = (positive: (r: Scored) => boolean) => {
    const tp = ok.filter((r) => positive(r) && r.label === 1).length;
    const fp = ok.filter((r) => positive(r) && r.label === 0).length;
    const fn = ok.filter((r) => !positive(r) && r.label === 1).length;
    const ratio = (a: number, b: number) => (b === 0 ? "n/a" : (a / b).toFixed(3));
    return `precision ${ratio(tp, tp + fp)}, recall ${ratio(tp, tp + fn)}`;
  };
  const latencies = ok.map((r) => r.ms).sort((a, b) => a - b);
  const errors = new Map<string, number>();
  for (const r of results) if (r.status !== 200) errors.set(`${r.status} ${r.error ?? ""}`, (errors.get(`${r.status} ${r.error ?? ""}`) ?? 0) + 1);
  const fraud = ok.filter((r) => r.label === 1).length;
  const lines = [
    `${results.length} transactions in ${seconds.toFixed(1)} s (${Math.round(results.length / seconds)}/s); ${fraud} are fraud in the simulator's truth`,
    `decisions: approve ${count("approve")}, review ${count("review")}, block ${count("block")}`,
    `block or review vs truth: ${confusion(flagged)}`,
    `block alone vs truth:     ${confusion((r) => r.decision === "block")}`,
    `latency (client side): p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`,
  ];
  for (const [what, n] of errors) lines.push(`failed: ${n} × ${what}`);
  return lines.join("\n");
}
