/** A Node Buffer (what readFileSync and protobufjs return) crosses the wire codec as bytes, not as its toJSON form. */
import { expect, test } from "bun:test";
import { roundTrip } from "../../src/runtime/codec";

test("Buffer payloads survive the codec as Uint8Array", () => {
  const out = roundTrip({ bytes: Buffer.from([1, 2, 3, 250]), nested: [Buffer.from("hi")] }) as { bytes: Uint8Array; nested: Uint8Array[] };
  expect(out.bytes).toBeInstanceOf(Uint8Array);
  expect(Array.from(out.bytes)).toEqual([1, 2, 3, 250]);
  expect(new TextDecoder().decode(out.nested[0])).toBe("hi");
});
