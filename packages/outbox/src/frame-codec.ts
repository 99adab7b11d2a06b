import { crc32c } from './crc32c.js';
import type { OutboxRecord } from './outbox-record.js';

// Frame layout, all integers big-endian:
//   [body length u32][crc32c u32][seq u64][appendedAtMs u64][key length u16][key][topic length u16][topic][payload]
// The checksum covers the length field and the body, so a flipped length bit is caught like any other.
// `body length` counts everything after the 8-byte header.

/** Bytes before the body: length + checksum. */
export const FRAME_HEADER_BYTES = 8;
const FIXED_BODY_BYTES = 8 + 8 + 2 + 2;
/** Largest body accepted when decoding; anything larger is treated as corruption. 64 MiB. */
export const MAX_FRAME_BODY_BYTES = 64 * 1024 * 1024;
const MAX_STRING_BYTES = 0xffff;
/** Largest key + topic + payload whose frame still decodes (a larger body reads back as corruption). */
export const MAX_RECORD_CONTENT_BYTES = MAX_FRAME_BODY_BYTES - FIXED_BODY_BYTES;

/** Size on disk of a record with these field sizes. */
export function frameBytes(keyBytes: number, topicBytes: number, payloadBytes: number): number {
  return FRAME_HEADER_BYTES + FIXED_BODY_BYTES + keyBytes + topicBytes + payloadBytes;
}

/**
 * Encodes one record; throws RangeError when the key or topic is over 65 535 UTF-8 bytes, or seq or
 * appendedAtMs (truncated, at least 0) is not a safe integer. Lone surrogates in the key or topic are
 * written as U+FFFD, as Buffer.from(text, 'utf8') writes them.
 */
export function encodeFrame(record: OutboxRecord): Buffer {
  const keyBytes = Buffer.byteLength(record.key, 'utf8');
  const topicBytes = Buffer.byteLength(record.topic, 'utf8');
  if (keyBytes > MAX_STRING_BYTES)
    throw new RangeError(`outbox key is ${keyBytes} bytes (max ${MAX_STRING_BYTES})`);
  if (topicBytes > MAX_STRING_BYTES)
    throw new RangeError(`outbox topic is ${topicBytes} bytes (max ${MAX_STRING_BYTES})`);
  if (!Number.isSafeInteger(record.seq) || record.seq < 0)
    throw new RangeError(`outbox seq ${record.seq} is not a safe integer`);
  const appendedAtMs = Math.max(0, Math.trunc(record.appendedAtMs));
  if (!Number.isSafeInteger(appendedAtMs))
    throw new RangeError(`outbox appendedAtMs ${record.appendedAtMs} is not a safe integer`);
  const total = frameBytes(keyBytes, topicBytes, record.payload.length);
  const frame = Buffer.allocUnsafe(total);
  frame.writeUInt32BE(total - FRAME_HEADER_BYTES, 0);
  let offset = writeUint64BE(frame, record.seq, FRAME_HEADER_BYTES);
  offset = writeUint64BE(frame, appendedAtMs, offset);
  offset = writeText(frame, record.key, keyBytes, frame.writeUInt16BE(keyBytes, offset));
  offset = writeText(frame, record.topic, topicBytes, frame.writeUInt16BE(topicBytes, offset));
  frame.set(record.payload, offset);
  frame.writeUInt32BE(frameChecksum(frame, 0, total), 4);
  return frame;
}

/** Writes a safe integer as 8 bytes big-endian (two 32-bit halves: no BigInt per frame). */
function writeUint64BE(buffer: Buffer, value: number, offset: number): number {
  buffer.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  return buffer.writeUInt32BE(value >>> 0, offset + 4);
}

/**
 * Writes `text` (`utf8Bytes` = its UTF-8 length) as UTF-8. A short ASCII text (UTF-8 length = string length
 * only then), such as a request id or a topic, is copied in a loop: cheaper than a call into native code.
 */
function writeText(buffer: Buffer, text: string, utf8Bytes: number, offset: number): number {
  if (utf8Bytes === text.length && utf8Bytes <= 48) {
    for (let index = 0; index < utf8Bytes; index += 1) buffer[offset + index] = text.charCodeAt(index);
    return offset + utf8Bytes;
  }
  return offset + buffer.write(text, offset, utf8Bytes, 'utf8');
}

function frameChecksum(buffer: Buffer, frameStart: number, frameEnd: number): number {
  const lengthCrc = crc32c(buffer, frameStart, frameStart + 4);
  return crc32c(buffer, frameStart + FRAME_HEADER_BYTES, frameEnd, lengthCrc);
}

export type DecodeResult =
  | { kind: 'record'; record: OutboxRecord; frameBytes: number }
  /** The buffer ends inside this frame (or its header): more bytes are needed, or the tail is torn. */
  | { kind: 'incomplete'; frameBytes: number | undefined }
  | { kind: 'corrupt'; reason: string };

/**
 * Decodes the frame starting at `offset`. Never throws: a bad length, checksum or inner layout is `corrupt`.
 * `incomplete` reports the frame's claimed size when the header is readable (so a reader can fetch it whole).
 */
export function decodeFrameAt(buffer: Buffer, offset: number): DecodeResult {
  if (buffer.length - offset < FRAME_HEADER_BYTES) return { kind: 'incomplete', frameBytes: undefined };
  const bodyBytes = buffer.readUInt32BE(offset);
  if (bodyBytes < FIXED_BODY_BYTES || bodyBytes > MAX_FRAME_BODY_BYTES) {
    return { kind: 'corrupt', reason: `implausible frame length ${bodyBytes}` };
  }
  const end = offset + FRAME_HEADER_BYTES + bodyBytes;
  if (end > buffer.length) return { kind: 'incomplete', frameBytes: end - offset };
  if (frameChecksum(buffer, offset, end) !== buffer.readUInt32BE(offset + 4)) {
    return { kind: 'corrupt', reason: 'checksum mismatch' };
  }
  return decodeBody(buffer, offset + FRAME_HEADER_BYTES, end);
}

function decodeBody(buffer: Buffer, start: number, end: number): DecodeResult {
  const seq = Number(buffer.readBigUInt64BE(start));
  const appendedAtMs = Number(buffer.readBigUInt64BE(start + 8));
  const keyBytes = buffer.readUInt16BE(start + 16);
  const keyEnd = start + 18 + keyBytes;
  if (keyEnd + 2 > end) return { kind: 'corrupt', reason: 'key overruns frame' };
  const topicBytes = buffer.readUInt16BE(keyEnd);
  const topicEnd = keyEnd + 2 + topicBytes;
  if (topicEnd > end) return { kind: 'corrupt', reason: 'topic overruns frame' };
  if (!Number.isSafeInteger(seq)) return { kind: 'corrupt', reason: 'seq out of range' };
  return {
    kind: 'record',
    frameBytes: end - start + FRAME_HEADER_BYTES,
    record: {
      seq,
      appendedAtMs,
      key: buffer.toString('utf8', start + 18, keyEnd),
      topic: buffer.toString('utf8', keyEnd + 2, topicEnd),
      // A copy, so a record handed to a transport never pins (or aliases) a large read buffer.
      payload: Uint8Array.prototype.slice.call(buffer, topicEnd, end),
    },
  };
}
