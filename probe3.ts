import { loadOnnxRuntime } from "./src/runtime/native/onnxruntime";
import { smallMlp, wideMlp, slowMlp, identity, IDENTITY_TYPES } from "./test/fixtures/make-models";
const ort = await loadOnnxRuntime();
const opts = { logSeverityLevel: 3 as const, intraOpNumThreads: 1 };
for (const [n, b, w] of [["small", smallMlp(), 30], ["wide", wideMlp(), 256], ["slow", slowMlp(), 64]] as const) {
  const s = await ort.InferenceSession.create(b, opts);
  for (const bs of [1, 64]) {
    const x = new ort.Tensor("float32", new Float32Array(bs * w).fill(0.5), [bs, w]);
    await s.run({ x });
    let ticks = 0; const iv = setInterval(() => ticks++, 1);
    const t = performance.now(); const N = n === "slow" ? 2 : n === "wide" ? 10 : 2000;
    for (let i = 0; i < N; i++) await s.run({ x });
    const dt = (performance.now() - t) / N; clearInterval(iv);
    console.log(n, b.byteLength, "bs", bs, "ms/run", dt.toFixed(3), "ticks during", ticks);
  }
}
for (const [k, t] of Object.entries(IDENTITY_TYPES)) {
  try { const s = await ort.InferenceSession.create(identity(t), opts); console.log(k, JSON.stringify(s.inputMetadata)); } catch (e) { console.log(k, String(e)); }
}
