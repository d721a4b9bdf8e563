/**
 * Loads onnxruntime-node so that it works both from node_modules and from the single compiled binary.
 *
 * `bun build --compile` embeds onnxruntime_binding.node but not the libonnxruntime.so.1 it links against. The
 * binary therefore carries the library as a file asset, writes it once to a cache directory, and dlopen()s it
 * before the binding loads: the dynamic linker then resolves the binding's dependency to the copy already loaded.
 */
import { dlopen } from "bun:ffi";
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
// @ts-ignore: a file asset import gives its path (inside the binary's virtual filesystem when compiled).
import embeddedLib from "../../../node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1" with { type: "file" };

type Ort = typeof import("onnxruntime-node");
let loaded: Promise<Ort> | undefined;

function cacheDir(): string {
  const base = process.env.CLEAVE_CACHE_DIR ?? process.env.XDG_CACHE_HOME ?? join(homedir() || tmpdir(), ".cache");
  return join(base, "cleave");
}

async function extractEmbeddedLibrary(): Promise<string> {
  const bytes = new Uint8Array(await Bun.file(embeddedLib as string).arrayBuffer());
  const dir = join(cacheDir(), `onnxruntime-${Bun.hash(bytes).toString(16)}`);
  const target = join(dir, "libonnxruntime.so.1");
  if (existsSync(target) && statSync(target).size === bytes.byteLength) return target;
  mkdirSync(dir, { recursive: true });
  // Write-then-rename so that two processes starting at once never load a half-written library.
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes, { mode: 0o755 });
  renameSync(tmp, target);
  return target;
}

export function loadOnnxRuntime(): Promise<Ort> {
  loaded ??= (async () => {
    if ((embeddedLib as string).startsWith("/$bunfs")) {
      const path = await extractEmbeddedLibrary();
      dlopen(path, { OrtGetApiBase: { args: [], returns: "ptr" } });
    }
    return await import("onnxruntime-node");
  })();
  return loaded;
}

/** A value as onnxruntime-node's native binding takes and returns it (an onnxruntime-common Tensor has these). */
export interface NativeValue {
  type: string;
  dims: readonly number[];
  data: unknown;
}

/** onnxruntime-node's native session (dist/binding): loads a model and runs it synchronously. */
export interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, NativeValue>, fetches: Record<string, null>, options: object): Record<string, NativeValue>;
  dispose(): void;
}

/**
 * The native binding under onnxruntime-node's InferenceSession, for callers that want a run to happen now: the
 * package's wrapper defers every `run` to a later turn of the event loop (setImmediate), and a caller that already
 * chose its moment (a batch formed at the end of a turn) pays one more trip round the loop for nothing.
 */
export async function loadOnnxBinding(): Promise<{ createNativeSession(): NativeSession }> {
  await loadOnnxRuntime();
  // @ts-ignore: an internal module of onnxruntime-node without type declarations (package.json pins 1.30.0).
  const { binding, initOrt } = (await import("onnxruntime-node/dist/binding")) as {
    binding: { InferenceSession: new () => NativeSession };
    initOrt: () => void;
  };
  return {
    createNativeSession() {
      initOrt();
      return new binding.InferenceSession();
    },
  };
}
