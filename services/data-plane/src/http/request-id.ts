import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../clock.js';

/** An incoming `x-request-id` is honoured only when it matches this (bounded, log- and header-safe). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

export interface RequestIdGeneratorDeps {
  clock: Clock;
  /** Source of random bytes; crypto.randomBytes by default. */
  randomBytes?: (size: number) => Buffer;
}

/**
 * fastify's `genReqId`: the client's valid `x-request-id`, else a fresh UUIDv7 (48-bit ms timestamp,
 * then random bits), so generated ids sort by time in logs and audit lookups.
 */
export function createRequestIdGenerator(deps: RequestIdGeneratorDeps): (request: IncomingMessage) => string {
  const random = deps.randomBytes ?? randomBytes;
  return (request) => {
    const incoming = request.headers[REQUEST_ID_HEADER];
    if (typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming)) return incoming;
    return uuidV7(deps.clock.now(), random(10));
  };
}

/** A UUIDv7 string from a wall-clock time in ms and 10 random bytes. */
export function uuidV7(nowMs: number, randomPart: Buffer): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(nowMs, 0, 6);
  randomPart.copy(bytes, 6, 0, 10);
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f); // version 7
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f); // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
