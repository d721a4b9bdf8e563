/**
 * Worker thread entry: owns one onnxruntime session and runs it off the main event loop, so a slow model never
 * delays health checks or light models. Listed in scripts/build.ts as an extra entry point of the compiled binary.
 *
 * Protocol: {type:"init", bytes, settings} → {type:"ready"} | {type:"error"}; {type:"run", id, feeds, fetches}
 * → {type:"result", id, outputs} | {type:"error", id, message}.
 */
import type { NativeSession } from "../../runtime/native/onnxruntime";
import { createSession, type Feeds, runSession, type SessionSettings } from "./session";

declare const self: Worker;

export type WorkerRequest =
  | { type: "init"; bytes: Uint8Array; settings: SessionSettings }
  | { type: "run"; id: number; feeds: Feeds; fetches: string[] };
export type WorkerReply =
  | { type: "ready" }
  | { type: "result"; id: number; outputs: Feeds }
  | { type: "error"; id?: number; message: string };

let session: NativeSession | undefined;

function transferables(outputs: Feeds): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of Object.values(outputs)) if (!Array.isArray(t.data)) buffers.add(t.data.buffer as ArrayBuffer);
  return [...buffers];
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const msg = event.data;
  if (msg.type === "init") {
    try {
      session = await createSession(msg.bytes, msg.settings);
      self.postMessage({ type: "ready" } satisfies WorkerReply);
    } catch (err) {
      self.postMessage({ type: "error", message: (err as Error).message } satisfies WorkerReply);
    }
    return;
  }
  try {
    if (!session) throw new Error("worker has no session");
    const outputs = await runSession(session, msg.feeds, msg.fetches);
    self.postMessage({ type: "result", id: msg.id, outputs } satisfies WorkerReply, transferables(outputs));
  } catch (err) {
    self.postMessage({ type: "error", id: msg.id, message: (err as Error).message } satisfies WorkerReply);
  }
};
