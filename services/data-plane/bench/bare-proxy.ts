// A reference for bench/inference-overhead.ts, not a product component: the least a fastify + undici proxy
// does for the same request — parse the JSON body, POST it to the backend through an undici Pool, read the
// whole answer and send it back. No auth, limits, records, logging, metrics or tracing. Its CPU per request
// on this machine is the floor the router's own overhead sits on.
//
//   PORT=<port> UPSTREAM=http://127.0.0.1:<mock port> node --import tsx services/data-plane/bench/bare-proxy.ts
import Fastify from 'fastify';
import { Pool } from 'undici';

const upstream = process.env.UPSTREAM;
if (upstream === undefined) throw new Error('UPSTREAM is required');
const pool = new Pool(upstream, { connections: 128 });
const app = Fastify({ logger: false });
app.post('/v1/chat/completions', async (request, reply) => {
  const response = await pool.request({
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request.body),
  });
  const text = await response.body.text();
  return reply.code(response.statusCode).type('application/json').send(text);
});
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`bare proxy listening on ${address}\n`);
const stop = (): void => void app.close().then(() => pool.close());
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
