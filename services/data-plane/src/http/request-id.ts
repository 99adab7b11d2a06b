import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Clock } from '../clock.js';

/** An incoming `x-request-id` is honoured only when it matches this (bounded, log- and header-safe). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Where the id of the last request whose headers arrived on a connection is left, on its socket: Node's
 * client errors (a body that did not arrive within the request timeout) reach the client-error handler with
 * only the socket, and its answer must carry the id the request's log line has. On the socket, not the
 * request: one property per connection, overwritten by each request, and no request kept alive by it.
 */
const SOCKET_REQUEST_ID = Symbol('requestId');

/** The id of the last request whose headers arrived on `socket` (undefined before any). */
export function lastRequestIdOn(socket: object): string | undefined {
  return (socket as { [SOCKET_REQUEST_ID]?: string })[SOCKET_REQUEST_ID];
}

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
    const id =
      typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming)
        ? incoming
        : uuidV7(deps.clock.now(), random(10));
    (request.socket as unknown as { [SOCKET_REQUEST_ID]?: string })[SOCKET_REQUEST_ID] = id;
    return id;
  };
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Scratch for {@link uuidV7}: 16 bytes, then the 36 characters of their text form. */
const uuidScratch = Buffer.alloc(16 + 36);

/**
 * A UUIDv7 string from a wall-clock time in ms and 10 random bytes. Written as ASCII into one scratch
 * buffer and read out as one string: it runs for every request (and every audit event).
 */
export function uuidV7(nowMs: number, randomPart: Buffer): string {
  const bytes = uuidScratch;
  bytes.writeUIntBE(nowMs, 0, 6);
  randomPart.copy(bytes, 6, 0, 10);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f); // version 7
  bytes[8] = 0x80 | (bytes[8]! & 0x3f); // RFC 4122 variant
  let at = 16;
  for (let index = 0; index < 16; index += 1) {
    if (index === 4 || index === 6 || index === 8 || index === 10) bytes[at++] = 0x2d; // '-'
    const byte = bytes[index]!;
    bytes[at++] = HEX_DIGITS[byte >>> 4]!;
    bytes[at++] = HEX_DIGITS[byte & 0x0f]!;
  }
  return bytes.toString('latin1', 16, 16 + 36);
}
