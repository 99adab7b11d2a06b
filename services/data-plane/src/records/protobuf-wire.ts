// Protobuf wire primitives for encoders that size their message first and then write it into one Buffer
// (usage-record-wire.ts, ingest-request-wire.ts). protobuf-es's BinaryWriter builds a list of chunks (one
// TextEncoder output per string, one 8-byte array per double) and copies them together at the end; for the
// one record encoded per request that was most of its cost. Each function writes at `offset` and returns
// the offset after what it wrote; the caller has sized the buffer with the matching *Bytes functions.
//
// Values are checked by the callers (see usage-record-wire.ts): these assume non-negative integers below
// 2^64 for varints.

/** Wire types used here (protobuf encoding spec). */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;

/** The key of a field: `(number << 3) | wireType`, written as a varint. */
export function fieldTag(fieldNumber: number, wireType: number): number {
  return ((fieldNumber << 3) | wireType) >>> 0;
}

const TWO_POW_28 = 0x10000000;

/** Bytes of `value` (an integer in [0, 2^64)) as a varint. */
export function varintBytes(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < TWO_POW_28) return 4;
  // Bit operations stop at 2^31: divide instead (exact for integer doubles, as the divisors are powers of 2).
  let bytes = 4;
  for (let rest = Math.floor(value / TWO_POW_28); rest > 0; rest = Math.floor(rest / 0x80)) bytes += 1;
  return bytes;
}

/** Writes `value` (an integer in [0, 2^64)) as a varint. */
export function writeVarint(buffer: Buffer, offset: number, value: number): number {
  let rest = value;
  while (rest > 0x7fffffff) {
    buffer[offset++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  while (rest > 0x7f) {
    buffer[offset++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  buffer[offset++] = rest;
  return offset;
}

/** Bytes of `value` (in [0, 2^64)) as a varint. */
export function bigVarintBytes(value: bigint): number {
  if (value <= BigInt(Number.MAX_SAFE_INTEGER)) return varintBytes(Number(value));
  let bytes = 1;
  for (let rest = value >> 7n; rest > 0n; rest >>= 7n) bytes += 1;
  return bytes;
}

/** Writes `value` (in [0, 2^64)) as a varint. */
export function writeBigVarint(buffer: Buffer, offset: number, value: bigint): number {
  if (value <= BigInt(Number.MAX_SAFE_INTEGER)) return writeVarint(buffer, offset, Number(value));
  let rest = value;
  while (rest > 0x7fn) {
    buffer[offset++] = Number(rest & 0x7fn) | 0x80;
    rest >>= 7n;
  }
  buffer[offset++] = Number(rest);
  return offset;
}

/** Bytes of an int32/int64 `value` as a varint: a negative one is its 64-bit two's complement, 10 bytes. */
export function signedVarintBytes(value: number): number {
  return value < 0 ? 10 : varintBytes(value);
}

/** Writes an int32/int64 `value` (an integer in [-2^63, 2^63)) as a varint. */
export function writeSignedVarint(buffer: Buffer, offset: number, value: number): number {
  return value < 0
    ? writeBigVarint(buffer, offset, BigInt.asUintN(64, BigInt(value)))
    : writeVarint(buffer, offset, value);
}

/** Bytes of a length-delimited field whose content is `contentBytes` long. */
export function lengthDelimitedBytes(fieldNumber: number, contentBytes: number): number {
  return varintBytes(fieldTag(fieldNumber, WIRE_LENGTH_DELIMITED)) + varintBytes(contentBytes) + contentBytes;
}

/** Writes the tag and length of a length-delimited field; its `contentBytes` of content follow. */
export function writeLengthDelimitedHeader(
  buffer: Buffer,
  offset: number,
  fieldNumber: number,
  contentBytes: number,
): number {
  return writeVarint(
    buffer,
    writeVarint(buffer, offset, fieldTag(fieldNumber, WIRE_LENGTH_DELIMITED)),
    contentBytes,
  );
}

/**
 * Writes `value` as UTF-8 (`utf8Bytes` = Buffer.byteLength(value, 'utf8')). Like TextEncoder, which
 * protobuf-es uses, a lone surrogate becomes U+FFFD. Short ASCII strings (byte length = string length
 * only then) are copied in a loop: cheaper than a call into native code for a dozen bytes.
 */
export function writeUtf8(buffer: Buffer, offset: number, value: string, utf8Bytes: number): number {
  if (utf8Bytes === value.length && utf8Bytes <= 48) {
    for (let index = 0; index < utf8Bytes; index += 1) buffer[offset + index] = value.charCodeAt(index);
    return offset + utf8Bytes;
  }
  return offset + buffer.write(value, offset, utf8Bytes, 'utf8');
}

// Fields as proto3 writes them: a field holding its default value (0, '', false) is left out. Each *Bytes
// function is the size of the whole field (0 when left out), each write* function writes it (or nothing).

/** A string field; `utf8Bytes` = Buffer.byteLength(value, 'utf8') (0 for ''). */
export function stringFieldBytes(tag: number, utf8Bytes: number): number {
  return utf8Bytes === 0 ? 0 : varintBytes(tag) + varintBytes(utf8Bytes) + utf8Bytes;
}

export function writeStringField(
  buffer: Buffer,
  offset: number,
  tag: number,
  value: string,
  utf8Bytes: number,
): number {
  if (utf8Bytes === 0) return offset;
  return writeUtf8(
    buffer,
    writeVarint(buffer, writeVarint(buffer, offset, tag), utf8Bytes),
    value,
    utf8Bytes,
  );
}

/** A uint32/uint64 field holding a number (an integer in [0, 2^64), checked by the caller), or a bool as 0/1. */
export function varintFieldBytes(tag: number, value: number): number {
  return value === 0 ? 0 : varintBytes(tag) + varintBytes(value);
}

export function writeVarintField(buffer: Buffer, offset: number, tag: number, value: number): number {
  return value === 0 ? offset : writeVarint(buffer, writeVarint(buffer, offset, tag), value);
}

/** A uint64 field holding a bigint in [0, 2^64) (checked by the caller). */
export function bigVarintFieldBytes(tag: number, value: bigint): number {
  return value === 0n ? 0 : varintBytes(tag) + bigVarintBytes(value);
}

export function writeBigVarintField(buffer: Buffer, offset: number, tag: number, value: bigint): number {
  return value === 0n ? offset : writeBigVarint(buffer, writeVarint(buffer, offset, tag), value);
}

/** A double field: 8 bytes little-endian. -0 counts as the default, as in protobuf-es; NaN does not. */
export function doubleFieldBytes(tag: number, value: number): number {
  return value === 0 ? 0 : varintBytes(tag) + 8;
}

export function writeDoubleField(buffer: Buffer, offset: number, tag: number, value: number): number {
  return value === 0 ? offset : buffer.writeDoubleLE(value, writeVarint(buffer, offset, tag));
}
