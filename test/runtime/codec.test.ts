/** The wire codec: what survives the wire, what is refused, and what a corrupted message does. */
import { describe, expect, test } from "bun:test";
import { decode, encode, roundTrip } from "../../src/runtime/codec";
import { decodeRequest, encodeRequest } from "../../src/runtime/bus/nats-frame";
import { CleaveError } from "../../src/runtime/errors";

describe("codec", () => {
  test("plain JSON data round-trips unchanged", () => {
    const v = { a: 1, b: "x", c: [true, null, { d: -0.5 }], e: {} };
    expect(roundTrip(v)).toEqual(v);
  });

  test("every typed array class round-trips with its class and values", () => {
    const arrays = [
      new Uint8Array([0, 255]),
      new Int8Array([-128, 127]),
      new Uint16Array([65535]),
      new Int16Array([-32768]),
      new Uint32Array([4294967295]),
      new Int32Array([-2147483648]),
      new Float32Array([1.5, Number.NaN]),
      new Float64Array([Math.PI, Number.NEGATIVE_INFINITY]),
      new BigInt64Array([-(2n ** 63n)]),
      new BigUint64Array([2n ** 64n - 1n]),
    ];
    const out = roundTrip({ arrays }) as { arrays: ArrayBufferView[] };
    out.arrays.forEach((a, i) => {
      expect(a.constructor).toBe(arrays[i].constructor);
      expect(Array.from(a as unknown as ArrayLike<unknown>)).toEqual(Array.from(arrays[i] as unknown as ArrayLike<unknown>));
    });
  });

  test("NaN, ±Infinity and bigint survive where JSON would turn them into null", () => {
    const out = roundTrip({ n: Number.NaN, p: Number.POSITIVE_INFINITY, m: Number.NEGATIVE_INFINITY, b: 12345678901234567890n, ok: 1 });
    expect(out).toEqual({ n: Number.NaN, p: Number.POSITIVE_INFINITY, m: Number.NEGATIVE_INFINITY, b: 12345678901234567890n, ok: 1 });
  });

  test("undefined fields are dropped and Dates become ISO strings, as JSON does", () => {
    expect(roundTrip<unknown>({ a: undefined, d: new Date(0) })).toEqual({ d: "1970-01-01T00:00:00.000Z" });
  });

  test("values that are not plain data are refused naming the type", () => {
    for (const [v, name] of [
      [new Map(), "Map"],
      [new Set([1]), "Set"],
      [new (class Money {})(), "Money"],
    ] as const) {
      expect(() => encode({ v })).toThrow(name);
    }
    expect(() => encode({ f: () => 1 })).toThrow("function");
  });

  test("a message in a misaligned Buffer (as NATS delivers) still decodes into valid typed arrays", () => {
    const bytes = encode({ x: new Float64Array([1, 2, 3]) });
    const buffer = Buffer.alloc(bytes.length + 3);
    buffer.set(bytes, 3);
    const out = decode(buffer.subarray(3)) as { x: Float64Array };
    expect(Array.from(out.x)).toEqual([1, 2, 3]);
  });

  test("corrupted messages fail with INVALID_ARGUMENT, never a crash", () => {
    const bytes = encode({ x: new Float32Array(8) });
    for (const bad of [new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0]), bytes.subarray(0, 5), bytes.subarray(0, bytes.length - 4)]) {
      try {
        decode(bad);
        throw new Error("expected a failure");
      } catch (err) {
        expect(err).toBeInstanceOf(CleaveError);
        expect((err as CleaveError).code).toBe("INVALID_ARGUMENT");
      }
    }
  });

  test("the NATS request frame carries deadline, trace and identity around the payload", () => {
    const envelope = {
      payload: { v: new Float32Array([1, 2]) },
      timeoutMs: 1234,
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      identity: { id: "svc", roles: ["payments"] },
    };
    const out = decodeRequest(encodeRequest(envelope));
    expect(out.timeoutMs).toBe(1234);
    expect(out.traceparent).toBe(envelope.traceparent);
    expect(out.identity).toEqual(envelope.identity);
    expect(Array.from((out.payload as { v: Float32Array }).v)).toEqual([1, 2]);
    expect(() => decodeRequest(new Uint8Array([1, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow("truncated");
  });
});

describe("codec: Node Buffers", () => {
  test("a Buffer travels as bytes, not as its toJSON object", () => {
    const out = roundTrip({ file: Buffer.from([1, 2, 3]) }) as { file: Uint8Array };
    expect(out.file).toBeInstanceOf(Uint8Array);
    expect(Array.from(out.file)).toEqual([1, 2, 3]);
  });
});
