/**
 * One onnxruntime session and the conversion between our tensors and onnxruntime's, shared by the event-loop
 * executor and the worker threads (so both run exactly the same code).
 */
import type { Tensor as OrtTensor } from "onnxruntime-node";
import { loadOnnxBinding, loadOnnxRuntime, type NativeSession } from "../../runtime/native/onnxruntime";
import { DATATYPES, datatypeOfOrt, type Tensor } from "./tensor";

export interface SessionSettings {
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimizationLevel: "disabled" | "basic" | "extended" | "all";
  executionMode: "sequential" | "parallel";
}

export type Feeds = Record<string, Tensor>;

let loadedOrt: Awaited<ReturnType<typeof loadOnnxRuntime>> | undefined;

/**
 * A model loaded into onnxruntime's native session, run synchronously (see loadOnnxBinding): a run on the event loop
 * completes in the turn that starts it, and a worker thread answers as soon as its run ends.
 */
export async function createSession(bytes: Uint8Array, settings: SessionSettings): Promise<NativeSession> {
  const session = (await loadOnnxBinding()).createNativeSession();
  session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, {
    intraOpNumThreads: settings.intraOpThreads,
    interOpNumThreads: settings.interOpThreads,
    graphOptimizationLevel: settings.graphOptimizationLevel,
    executionMode: settings.executionMode,
    executionProviders: [],
    // Load and run failures reach the caller (and our log) as errors; onnxruntime's own stderr lines would only
    // duplicate them, and its warnings (old opsets, initializers listed as inputs) are for model authors.
    logSeverityLevel: 4,
  });
  return session;
}

/** Runs the session; `fetches` names the outputs to compute (never a non-tensor one onnxruntime cannot return). */
export async function runSession(session: NativeSession, feeds: Feeds, fetches: readonly string[]): Promise<Feeds> {
  // Loaded once per thread (a session exists, so the module is already loaded): no await on the hot path.
  const ort = (loadedOrt ??= await loadOnnxRuntime());
  const ortFeeds: Record<string, OrtTensor> = {};
  for (const [name, t] of Object.entries(feeds)) {
    if (t.datatype === "FP16") {
      // onnxruntime-common turns float16 data into a Float16Array when the runtime has one, but the native
      // binding only reads a Uint16Array of half bits: hand it those bits directly.
      const bits = t.data as Uint16Array;
      const tensor = new ort.Tensor("float16", new Float16Array(bits.buffer as ArrayBuffer, bits.byteOffset, bits.length) as never, t.shape);
      Object.defineProperty(tensor, "data", { value: bits });
      ortFeeds[name] = tensor;
    } else ortFeeds[name] = new ort.Tensor(DATATYPES[t.datatype].ort as "float32", t.data as Float32Array, t.shape);
  }
  const wanted: Record<string, null> = {};
  for (const name of fetches) wanted[name] = null;
  const results = session.run(ortFeeds, wanted, {});
  const out: Feeds = {};
  for (const name of fetches) {
    const r = results[name];
    const datatype = datatypeOfOrt(r.type);
    if (!datatype) throw new Error(`output "${name}" has onnxruntime type ${r.type}, which has no OIP datatype`);
    let data = r.data as Tensor["data"];
    if (datatype === "FP16") {
      const half = r.data as unknown as Float16Array | Uint16Array;
      data = new Uint16Array(half.buffer, half.byteOffset, half.length);
    }
    out[name] = { datatype, shape: r.dims.map(Number), data };
  }
  return out;
}
