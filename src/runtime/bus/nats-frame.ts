/**
 * How a call's metadata travels over NATS: a small binary prefix in front of the codec-encoded payload, rather
 * than NATS headers. Headers cost a third of a round trip's CPU here (measured: 61k vs 39k requests/s on one
 * connection pair), and every call carries them.
 *
 * Layout (little-endian): [u8 version=1][u8 reserved][u16 traceparentLength][u32 timeoutMs][u32 identityLength]
 * [traceparent utf-8][identity JSON utf-8][zero padding to a multiple of 8] then the payload, so the payload's
 * typed-array segments keep their 8-byte alignment relative to the message.
 */
import { decode, encode, putU16, putU32 } from "../codec";
import { CleaveError } from "../errors";
import { type Envelope, wireTraceparent } from "./transport";

const VERSION = 1;
const FIXED = 12;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function encodeRequest(envelope: Envelope): Uint8Array {
  const traceparent = wireTraceparent(envelope);
  const trace = traceparent ? textEncoder.encode(traceparent) : new Uint8Array(0);
  const identity = envelope.identity ? textEncoder.encode(JSON.stringify(envelope.identity)) : new Uint8Array(0);
  const payload = encode(envelope.payload);
  const head = (FIXED + trace.length + identity.length + 7) & ~7;
  const out = new Uint8Array(head + payload.length);
  out[0] = VERSION;
  putU16(out, 2, trace.length);
  putU32(out, 4, Math.max(0, Math.min(0xffffffff, Math.floor(envelope.timeoutMs))));
  putU32(out, 8, identity.length);
  out.set(trace, FIXED);
  out.set(identity, FIXED + trace.length);
  out.set(payload, head);
  return out;
}

export function decodeRequest(bytes: Uint8Array): Envelope {
  if (bytes.length < FIXED || bytes[0] !== VERSION) {
    throw new CleaveError("INVALID_ARGUMENT", "bus request is not in Cleave's frame format (bad version header)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const traceLength = view.getUint16(2, true);
  const timeoutMs = view.getUint32(4, true);
  const identityLength = view.getUint32(8, true);
  const head = (FIXED + traceLength + identityLength + 7) & ~7;
  if (head > bytes.length) throw new CleaveError("INVALID_ARGUMENT", "bus request frame is truncated");
  const identity = identityLength
    ? JSON.parse(textDecoder.decode(bytes.subarray(FIXED + traceLength, FIXED + traceLength + identityLength)))
    : undefined;
  return {
    payload: decode(bytes.subarray(head)),
    timeoutMs,
    traceparent: traceLength ? textDecoder.decode(bytes.subarray(FIXED, FIXED + traceLength)) : undefined,
    identity,
  };
}
