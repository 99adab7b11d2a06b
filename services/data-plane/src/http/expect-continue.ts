import type { Server } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Node's own test of an `Expect` value asking for 100 Continue (lib/_http_server.js). */
const CONTINUE_EXPECTATION = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * Makes `Expect: 100-continue` the routes' decision: without a `checkContinue` listener Node sends
 * 100 Continue before any hook runs, so a client uploads a whole body to be told 413 (its declared length
 * is over the limit) or 503 not_ready, and Node reads it all to discard it. With this, a request that asks
 * gets its 100 only from {@link sendContinue}, once the checks on its headers alone passed; a final answer
 * before it makes Node close the connection (the client held its body back).
 */
export function deferContinue(server: Server): void {
  server.on('checkContinue', (request, response) => server.emit('request', request, response));
}

/** Sends the 100 Continue a request asked for (see {@link deferContinue}), just before its body is read. */
export function sendContinue(request: FastifyRequest, reply: FastifyReply): void {
  const expect = request.headers.expect;
  if (expect === undefined || request.raw.httpVersion !== '1.1' || reply.raw.headersSent) return;
  if (CONTINUE_EXPECTATION.test(expect)) reply.raw.writeContinue();
}
