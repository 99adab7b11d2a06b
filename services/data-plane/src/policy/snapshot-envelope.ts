import { createHash } from 'node:crypto';

/**
 * On-disk envelope of the cached snapshot: a fixed 44-byte header, then the protobuf payload.
 *
 *   offset 0   4 bytes  magic "RPSC"
 *   offset 4   u16 BE   format version (1)
 *   offset 6   u16 BE   reserved, 0
 *   offset 8   u32 BE   payload length in bytes
 *   offset 12  32 bytes sha256 of the payload
 *   offset 44  payload  toBinary(PolicySnapshotSchema, snapshot)
 *
 * The length catches truncation, the checksum catches corruption, the version lets a later release change
 * the layout and still recognise (and set aside) an older file.
 */
export const SNAPSHOT_ENVELOPE_FORMAT_VERSION = 1;

const MAGIC = Buffer.from('RPSC', 'ascii');
const HEADER_BYTES = 44;

/** Wraps a payload into the envelope. */
export function encodeSnapshotEnvelope(payload: Uint8Array): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt16BE(SNAPSHOT_ENVELOPE_FORMAT_VERSION, 4);
  header.writeUInt16BE(0, 6);
  header.writeUInt32BE(payload.length, 8);
  createHash('sha256').update(payload).digest().copy(header, 12);
  return Buffer.concat([header, payload]);
}

export type DecodedEnvelope = { readonly payload: Buffer } | { readonly problem: string };

/** Unwraps and verifies an envelope; `problem` says precisely what is wrong with a bad one. */
export function decodeSnapshotEnvelope(file: Buffer): DecodedEnvelope {
  if (file.length < HEADER_BYTES)
    return { problem: `truncated header (${file.length} of ${HEADER_BYTES} bytes)` };
  if (!file.subarray(0, 4).equals(MAGIC)) return { problem: 'not a policy snapshot cache file (bad magic)' };
  const formatVersion = file.readUInt16BE(4);
  if (formatVersion !== SNAPSHOT_ENVELOPE_FORMAT_VERSION) {
    return {
      problem: `unsupported format version ${formatVersion} (expected ${SNAPSHOT_ENVELOPE_FORMAT_VERSION})`,
    };
  }
  const expectedLength = file.readUInt32BE(8);
  const payload = file.subarray(HEADER_BYTES);
  if (payload.length !== expectedLength) {
    return {
      problem: `payload is ${payload.length} bytes, header says ${expectedLength} (truncated or padded)`,
    };
  }
  const expectedChecksum = file.subarray(12, HEADER_BYTES);
  const actualChecksum = createHash('sha256').update(payload).digest();
  if (!actualChecksum.equals(expectedChecksum)) {
    return {
      problem: `checksum mismatch (sha256 ${actualChecksum.toString('hex')}, header ${expectedChecksum.toString('hex')})`,
    };
  }
  return { payload };
}
