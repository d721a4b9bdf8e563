import { writeFileSync } from "node:fs";
import { startTestProcess } from "./test/harness/deployment";
import { smallMlp } from "./test/fixtures/make-models";
const proc = await startTestProcess({ placement: "inprocess", modules: { inference: {} } });
await proc.bus.call("inference", "load", { name: "s", version: "1", bytes: smallMlp() });
writeFileSync("/tmp/p19-body.json", JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 30], data: Array.from({ length: 30 }, (_, i) => Math.sin(i) / 2) }] }));
for (const conc of ["1", "32", "64"]) {
  const rs: string[] = [];
  for (let r = 0; r < 3; r++) {
    const p = Bun.spawn(["bun", "bench/infer-load.ts", proc.url + "/v2/models/s/infer", "/tmp/p19-body.json", conc, "1500", "200000"], { stdout: "pipe" });
    const out = JSON.parse((await new Response(p.stdout).text()).trim());
    rs.push(`${(out.requests / out.seconds).toFixed(0)}rps/p50 ${out.p50Us.toFixed(0)}`);
  }
  const st = ((await proc.bus.call("inference", "stats", {})) as any).models[0];
  console.log(process.env.MODE, "c=" + conc, rs.join("  "), "avg batch", (st.batchSize.sum / st.batches).toFixed(2));
}
await proc.close();
