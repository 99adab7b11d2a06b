import {
  bigVarintFieldBytes,
  doubleFieldBytes,
  fieldTag,
  signedVarintBytes,
  stringFieldBytes,
  varintFieldBytes,
  WIRE_FIXED64,
  WIRE_LENGTH_DELIMITED,
  WIRE_VARINT,
  writeBigVarintField,
  writeDoubleField,
  writeSignedVarint,
  writeStringField,
  writeVarint,
  writeVarintField,
} from './protobuf-wire.js';
import type { UsageRecordInit } from './usage-recorder.js';

/**
 * Field numbers of router.v1.UsageRecord (proto/router/v1/usage.proto) that {@link encodeUsageRecord}
 * writes. usage-record-wire.test.ts fails when the schema has a field missing here, so a proto change
 * cannot be shipped without the encoder learning it.
 */
export const USAGE_RECORD_FIELDS = {
  requestId: 1,
  startedAt: 2,
  tenantId: 3,
  keyPublicId: 4,
  model: 5,
  routeId: 6,
  backendId: 7,
  statusCode: 8,
  inputTokens: 9,
  outputTokens: 10,
  costMicros: 11,
  attempts: 12,
  streamed: 13,
  truncated: 14,
  totalMs: 15,
  upstreamMs: 16,
  overheadMs: 17,
  queueMs: 18,
  timeToFirstTokenMs: 19,
  dataPlaneId: 20,
  policyVersion: 21,
  recordId: 22,
} as const;

const F = USAGE_RECORD_FIELDS;
const string = (field: number): number => fieldTag(field, WIRE_LENGTH_DELIMITED);
const varint = (field: number): number => fieldTag(field, WIRE_VARINT);
const double = (field: number): number => fieldTag(field, WIRE_FIXED64);
/** Tags (field key varints) in field order. */
const TAG = {
  requestId: string(F.requestId),
  startedAt: string(F.startedAt),
  tenantId: string(F.tenantId),
  keyPublicId: string(F.keyPublicId),
  model: string(F.model),
  routeId: string(F.routeId),
  backendId: string(F.backendId),
  statusCode: varint(F.statusCode),
  inputTokens: varint(F.inputTokens),
  outputTokens: varint(F.outputTokens),
  costMicros: varint(F.costMicros),
  attempts: varint(F.attempts),
  streamed: varint(F.streamed),
  truncated: varint(F.truncated),
  totalMs: double(F.totalMs),
  upstreamMs: double(F.upstreamMs),
  overheadMs: double(F.overheadMs),
  queueMs: double(F.queueMs),
  timeToFirstTokenMs: double(F.timeToFirstTokenMs),
  dataPlaneId: string(F.dataPlaneId),
  policyVersion: varint(F.policyVersion),
  recordId: string(F.recordId),
} as const;
// google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2; }
const TIMESTAMP_SECONDS_TAG = fieldTag(1, WIRE_VARINT);
const TIMESTAMP_NANOS_TAG = fieldTag(2, WIRE_VARINT);
const UINT64_END = 2n ** 64n;

/**
 * The router.v1.UsageRecord wire bytes for `init`, stamped with the data plane's id and the record's own id
 * (`recordId`, a UUIDv7 the recorder makes: the control plane deduplicates on it, request ids may repeat):
 * proto3 (default values left out, fields in number order), exactly what
 * toBinary(UsageRecordSchema, create(UsageRecordSchema, …)) produces — a fast-check property checks it,
 * invalid numbers included. One record is encoded on every request before its response, so it
 * is sized first and written straight into one Buffer (protobuf-es's reflection encoder took ~20 µs of
 * router CPU, its BinaryWriter ~8 µs; bench/record-wire-cpu-bench.ts).
 *
 * The sizing pass and the writing pass list the same fields in the same order, side by side on purpose;
 * a mismatch cannot go unnoticed (the final length check, and the property test).
 *
 * @throws RangeError naming the field when a number cannot be encoded as its proto type (a fraction,
 * negative or out of range where protobuf-es throws too): a caller bug, never silently different bytes.
 */
export function encodeUsageRecord(init: UsageRecordInit, dataPlaneId: string, recordId: string): Uint8Array {
  checkUint32('statusCode', init.statusCode);
  checkUint64('inputTokens', init.inputTokens);
  checkUint64('outputTokens', init.outputTokens);
  checkUint64('costMicros', init.costMicros);
  checkUint32('attempts', init.attempts);
  checkBigUint64('policyVersion', init.policyVersion);
  // As timestampFromMs makes it.
  const seconds = Math.floor(init.startedAtMs / 1000);
  const nanos = (init.startedAtMs - seconds * 1000) * 1_000_000;
  checkInteger('startedAt.seconds', seconds, -(2 ** 63), 2 ** 63);
  checkInteger('startedAt.nanos', nanos, -(2 ** 31), 2 ** 31);
  const timestampBytes =
    (seconds === 0 ? 0 : 1 + signedVarintBytes(seconds)) + (nanos === 0 ? 0 : 1 + signedVarintBytes(nanos));
  // startedAt is always written (a set message field, even when empty); its tag and length take 1 byte each.
  const startedAtBytes = 2 + timestampBytes;

  const requestIdBytes = Buffer.byteLength(init.requestId, 'utf8');
  const tenantIdBytes = Buffer.byteLength(init.tenantId, 'utf8');
  const keyPublicIdBytes = Buffer.byteLength(init.keyPublicId, 'utf8');
  const modelBytes = Buffer.byteLength(init.model, 'utf8');
  const routeIdBytes = Buffer.byteLength(init.routeId, 'utf8');
  const backendIdBytes = Buffer.byteLength(init.backendId, 'utf8');
  const dataPlaneIdBytes = Buffer.byteLength(dataPlaneId, 'utf8');
  const recordIdBytes = Buffer.byteLength(recordId, 'utf8');
  const size =
    stringFieldBytes(TAG.requestId, requestIdBytes) +
    startedAtBytes +
    stringFieldBytes(TAG.tenantId, tenantIdBytes) +
    stringFieldBytes(TAG.keyPublicId, keyPublicIdBytes) +
    stringFieldBytes(TAG.model, modelBytes) +
    stringFieldBytes(TAG.routeId, routeIdBytes) +
    stringFieldBytes(TAG.backendId, backendIdBytes) +
    varintFieldBytes(TAG.statusCode, init.statusCode) +
    varintFieldBytes(TAG.inputTokens, init.inputTokens) +
    varintFieldBytes(TAG.outputTokens, init.outputTokens) +
    varintFieldBytes(TAG.costMicros, init.costMicros) +
    varintFieldBytes(TAG.attempts, init.attempts) +
    varintFieldBytes(TAG.streamed, init.streamed ? 1 : 0) +
    varintFieldBytes(TAG.truncated, init.truncated ? 1 : 0) +
    doubleFieldBytes(TAG.totalMs, init.totalMs) +
    doubleFieldBytes(TAG.upstreamMs, init.upstreamMs) +
    doubleFieldBytes(TAG.overheadMs, init.overheadMs) +
    doubleFieldBytes(TAG.queueMs, init.queueMs) +
    doubleFieldBytes(TAG.timeToFirstTokenMs, init.timeToFirstTokenMs) +
    stringFieldBytes(TAG.dataPlaneId, dataPlaneIdBytes) +
    bigVarintFieldBytes(TAG.policyVersion, init.policyVersion) +
    stringFieldBytes(TAG.recordId, recordIdBytes);

  const out = Buffer.allocUnsafe(size);
  let at = writeStringField(out, 0, TAG.requestId, init.requestId, requestIdBytes);
  out[at++] = TAG.startedAt;
  out[at++] = timestampBytes;
  if (seconds !== 0) at = writeSignedVarint(out, writeVarint(out, at, TIMESTAMP_SECONDS_TAG), seconds);
  if (nanos !== 0) at = writeSignedVarint(out, writeVarint(out, at, TIMESTAMP_NANOS_TAG), nanos);
  at = writeStringField(out, at, TAG.tenantId, init.tenantId, tenantIdBytes);
  at = writeStringField(out, at, TAG.keyPublicId, init.keyPublicId, keyPublicIdBytes);
  at = writeStringField(out, at, TAG.model, init.model, modelBytes);
  at = writeStringField(out, at, TAG.routeId, init.routeId, routeIdBytes);
  at = writeStringField(out, at, TAG.backendId, init.backendId, backendIdBytes);
  at = writeVarintField(out, at, TAG.statusCode, init.statusCode);
  at = writeVarintField(out, at, TAG.inputTokens, init.inputTokens);
  at = writeVarintField(out, at, TAG.outputTokens, init.outputTokens);
  at = writeVarintField(out, at, TAG.costMicros, init.costMicros);
  at = writeVarintField(out, at, TAG.attempts, init.attempts);
  at = writeVarintField(out, at, TAG.streamed, init.streamed ? 1 : 0);
  at = writeVarintField(out, at, TAG.truncated, init.truncated ? 1 : 0);
  at = writeDoubleField(out, at, TAG.totalMs, init.totalMs);
  at = writeDoubleField(out, at, TAG.upstreamMs, init.upstreamMs);
  at = writeDoubleField(out, at, TAG.overheadMs, init.overheadMs);
  at = writeDoubleField(out, at, TAG.queueMs, init.queueMs);
  at = writeDoubleField(out, at, TAG.timeToFirstTokenMs, init.timeToFirstTokenMs);
  at = writeStringField(out, at, TAG.dataPlaneId, dataPlaneId, dataPlaneIdBytes);
  at = writeBigVarintField(out, at, TAG.policyVersion, init.policyVersion);
  at = writeStringField(out, at, TAG.recordId, recordId, recordIdBytes);
  if (at !== size) throw new Error(`encodeUsageRecord wrote ${at} bytes, sized ${size} (encoder bug)`);
  return out;
}

// The values protobuf-es's BinaryWriter refuses (it throws), refused here too. A field at its default (0)
// is left out before any check, as there.

function checkUint32(field: string, value: number): void {
  if (value !== 0) checkInteger(field, value, 0, 2 ** 32);
}

function checkUint64(field: string, value: number): void {
  if (value !== 0) checkInteger(field, value, 0, 2 ** 64);
}

function checkBigUint64(field: string, value: bigint): void {
  if (value < 0n || value >= UINT64_END)
    throw new RangeError(`UsageRecord.${field} ${value} is out of the uint64 range`);
}

/** `value` must be an integer in [min, max). */
function checkInteger(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value >= max)
    throw new RangeError(`UsageRecord.${field} ${value} is not an integer in [${min}, ${max})`);
}
