/**
 * Calls to the same subject made in one turn of the event loop travel as one NATS message, and their replies as
 * one message back (when the last of them is done): a busy caller (the gateway forwarding HTTP requests, the decision module's stages) pays the
 * client's protocol work, the server's routing and the receiver's parsing once per batch instead of once per call.
 * Each call keeps its own token, deadline and reply; a batch of one is sent as a plain call.
 *
 * Batch layout (little-endian): [u8 version=2][u8 reserved][u16 reserved][u32 count], then per item
 * [u16 tokenLength][u16 reserved][u32 bodyLength][token utf-8][zero padding to 8][body][zero padding to 8], so each
 * body starts 8-byte aligned relative to the message, as a single call's frame does.
 */
import { putU16, putU32 } from "../codec";
import { CleaveError } from "../errors";

export const BATCH_VERSION = 2;
const HEAD = 8;
const ITEM_HEAD = 8;
const pad8 = (n: number) => (n + 7) & ~7;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export interface BatchItem {
  token: string;
  body: Uint8Array;
}

/** Bytes an item adds to a batch message. */
export const batchItemSize = (item: BatchItem) => ITEM_HEAD + pad8(item.token.length) + pad8(item.body.byteLength);

/** Room for items in a batch message of at most `messageBytes`. */
export const batchItemsLimit = (messageBytes: number) => messageBytes - HEAD;

export function encodeBatch(items: readonly BatchItem[]): Uint8Array {
  const tokens = items.map((i) => textEncoder.encode(i.token));
  let size = HEAD;
  items.forEach((item, k) => (size += ITEM_HEAD + pad8(tokens[k].length) + pad8(item.body.byteLength)));
  const out = new Uint8Array(size);
  out[0] = BATCH_VERSION;
  putU32(out, 4, items.length);
  let offset = HEAD;
  items.forEach((item, k) => {
    putU16(out, offset, tokens[k].length);
    putU32(out, offset + 4, item.body.byteLength);
    offset += ITEM_HEAD;
    out.set(tokens[k], offset);
    offset += pad8(tokens[k].length);
    out.set(item.body, offset);
    offset += pad8(item.body.byteLength);
  });
  return out;
}

export const isBatch = (bytes: Uint8Array) => bytes.length >= HEAD && bytes[0] === BATCH_VERSION;

/** The items of a batch message; bodies are views into it. */
export function decodeBatch(bytes: Uint8Array): BatchItem[] {
  const truncated = () => new CleaveError("INVALID_ARGUMENT", "bus batch message is truncated");
  if (!isBatch(bytes)) throw new CleaveError("INVALID_ARGUMENT", "bus message is not a Cleave batch (bad version header)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4, true);
  const items: BatchItem[] = [];
  let offset = HEAD;
  for (let k = 0; k < count; k++) {
    if (offset + ITEM_HEAD > bytes.length) throw truncated();
    const tokenLength = view.getUint16(offset, true);
    const bodyLength = view.getUint32(offset + 4, true);
    offset += ITEM_HEAD;
    if (offset + pad8(tokenLength) + bodyLength > bytes.length) throw truncated();
    const token = textDecoder.decode(bytes.subarray(offset, offset + tokenLength));
    offset += pad8(tokenLength);
    items.push({ token, body: bytes.subarray(offset, offset + bodyLength) });
    offset += pad8(bodyLength);
  }
  return items;
}
