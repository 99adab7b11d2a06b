import { connect, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startInferenceHarness, type InferenceHarness } from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../testing/test-policy.test-support.js';

// What unusual clients and proxies send to the data plane's HTTP edge, over a real listener: each refusal is
// a catalogue code in the route's shape and never reaches the backend; an accepted body reaches the backend
// with the client's meaning.

let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness();
});
afterAll(async () => {
  await harness.close();
});
beforeEach(() => {
  harness.backends['mock-a'].clearRequests();
});

const demoKey = testApiKey(TEST_KEYS.demo);

function post(
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${harness.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${demoKey}`, 'content-type': 'application/json', ...headers },
    body,
  });
}

/** The OpenAI-shaped error of a /v1/chat/completions answer, and that the backend never saw the request. */
async function expectOpenAIRefusal(response: Response, status: number, code: string): Promise<string> {
  const body = (await response.json()) as { error?: { code: string; type: string; message: string } };
  expect({ status: response.status, code: body.error?.code }).toEqual({ status, code });
  expect(body.error?.type).toBe('invalid_request_error');
  expect(harness.backends['mock-a'].requests()).toEqual([]);
  return body.error?.message ?? '';
}

/** An HTTP/1.1 exchange on a raw connection: bytes written as given, the first response read whole. */
interface RawExchange {
  /** Status line and headers (names lowercased) of the first response, and its body. */
  readonly response: Promise<{ status: number; headers: Map<string, string>; body: string }>;
  /** Settles when the server closes the connection. */
  readonly closed: Promise<void>;
}

/** Connections of raw exchanges, destroyed after each test. */
const sockets = new Set<Socket>();
afterEach(() => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
});

/**
 * Writes `request`, one byte per character (latin1), without ending the connection (Node aborts a request
 * whose client half-closed).
 */
function rawExchange(request: string): RawExchange {
  const { hostname, port } = new URL(harness.url);
  const socket = connect(Number(port), hostname, () => socket.write(request, 'latin1'));
  sockets.add(socket);
  socket.setEncoding('latin1');
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const response = new Promise<{ status: number; headers: Map<string, string>; body: string }>(
    (resolve, reject) => {
      let text = '';
      const onData = (chunk: string): void => {
        text += chunk;
        // Skip interim (1xx) responses: the first final one is the answer.
        const interim = /^HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n/.exec(text);
        if (interim !== null) text = text.slice(interim[0].length);
        const headEnd = text.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const [statusLine = '', ...lines] = text.slice(0, headEnd).split('\r\n');
        const headers = new Map(
          lines.map((line) => [
            line.slice(0, line.indexOf(':')).toLowerCase(),
            line.slice(line.indexOf(':') + 1).trim(),
          ]),
        );
        const body = text.slice(headEnd + 4);
        if (body.length < Number(headers.get('content-length') ?? 0)) return;
        socket.off('data', onData);
        resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
      };
      socket.on('data', onData);
      socket.on('close', () => reject(new Error(`connection closed before a whole response: ${text}`)));
    },
  );
  return { response, closed };
}

const chatBody = (extra = ''): string =>
  `{"model":"demo-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":2${extra}}`;

describe('request body encoding', () => {
  it('refuses a body that is not valid UTF-8 instead of forwarding U+FFFD in its place', async () => {
    const text = Buffer.from(chatBody(',"user":"caf_"'), 'utf8');
    text[text.indexOf('_')] = 0xe9; // "café" in Latin-1: a lone 0xE9 is not UTF-8
    const message = await expectOpenAIRefusal(
      await post('/v1/chat/completions', text),
      400,
      'invalid_request',
    );
    expect(message).toContain('UTF-8');
  });

  // RFC 8259: JSON has no charset parameter, and adding one "really has no effect on compliant recipients".
  // The bytes decide: UTF-8 is served whatever the label says (older Spring clients send ISO-8859-1 on
  // JSON); Latin-1 bytes are refused as not UTF-8 (400), never decoded into other text.
  it('ignores the charset parameter: UTF-8 bytes are served under any label, Latin-1 bytes are refused', async () => {
    const latin1 = Buffer.from(chatBody(',"user":"café"'), 'latin1');
    await expectOpenAIRefusal(
      await post('/v1/chat/completions', latin1, { 'content-type': 'application/json;charset=latin1' }),
      400,
      'invalid_request',
    );
    for (const contentType of [
      'application/json; charset=iso-8859-1',
      'application/json; charset=us-ascii',
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/json; charset="UTF-8"',
      'application/json;charset=utf8',
    ]) {
      const response = await post('/v1/chat/completions', chatBody(',"user":"café"'), {
        'content-type': contentType,
      });
      expect(response.status, contentType).toBe(200);
    }
    const users = harness.backends['mock-a']
      .requests()
      .map((request) => (request.body as { user: string }).user);
    expect(users).toEqual(['café', 'café', 'café', 'café', 'café', 'café']);
  });

  it('refuses a body declared compressed with 415 rather than reading its bytes as JSON', async () => {
    // A proxy's stale header on a plain body, as well as a really compressed one: the router decompresses
    // nothing, so it cannot tell what the client meant.
    for (const encoding of ['br', 'deflate', 'gzip']) {
      const body = encoding === 'gzip' ? gzipSync(chatBody()) : Buffer.from(chatBody());
      const message = await expectOpenAIRefusal(
        await post('/v1/chat/completions', body, { 'content-encoding': encoding }),
        415,
        'unsupported_media_type',
      );
      expect(message).toContain('Content-Encoding');
    }
    const identity = await post('/v1/chat/completions', chatBody(), { 'content-encoding': 'identity' });
    expect(identity.status).toBe(200);
  });

  it('accepts a UTF-8 byte order mark before the JSON', async () => {
    const response = await post('/v1/chat/completions', `\uFEFF${chatBody()}`);
    expect(response.status).toBe(200);
  });
});

describe('numbers the router cannot forward unchanged', () => {
  it('refuses a number that overflows a double instead of forwarding it as null', async () => {
    const message = await expectOpenAIRefusal(
      await post('/v1/chat/completions', chatBody(',"seed":1e400')),
      400,
      'invalid_request',
    );
    expect(message).toContain('number');
  });

  it('refuses an integer beyond 2^53 instead of forwarding a different one', async () => {
    await expectOpenAIRefusal(
      await post('/v1/chat/completions', chatBody(',"seed":9007199254740993')),
      400,
      'invalid_request',
    );
    // In range, and numbers written in other forms, go as the same values.
    const response = await post(
      '/v1/chat/completions',
      chatBody(',"seed":9007199254740991,"temperature":-0,"presence_penalty":1.0e0,"top_p":100.0e-2'),
    );
    expect(response.status).toBe(200);
    expect(harness.backends['mock-a'].requests()[0]?.body).toMatchObject({
      seed: 9007199254740991,
      temperature: 0,
      presence_penalty: 1,
      top_p: 1,
    });
  });

  it.each([
    ['max_tokens', '1e400'],
    ['max_tokens', '9007199254740993'],
    ['n', '1e400'],
    ['temperature', '1e400'],
    ['max_tokens', '"5"'],
    ['n', '2.5'],
  ])('refuses %s: %s', async (field, value) => {
    const body = `{"model":"demo-chat","messages":[{"role":"user","content":"hi"}],"${field}":${value}}`;
    await expectOpenAIRefusal(await post('/v1/chat/completions', body), 400, 'invalid_request');
  });
});

describe('raw HTTP from proxies', () => {
  const request = (headers: string, body = ''): string =>
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${demoKey}\r\n` +
    `Content-Type: application/json\r\n${headers}\r\n${body}`;

  it('refuses two Content-Length fields as invalid HTTP, in the router shape', async () => {
    const body = chatBody();
    const exchange = rawExchange(
      request(`Content-Length: ${body.length}\r\nContent-Length: ${body.length}\r\n`, body),
    );
    const answer = await exchange.response;
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'invalid_request' } });
    await exchange.closed;
    expect(harness.backends['mock-a'].requests()).toEqual([]);
  });

  it('refuses a chunked body once it passes the policy limit, not after reading it to its end', async () => {
    // The policy allows 64 KiB, the server buffers up to DP_MAX_BODY_BYTES (4 MiB): the 413 comes while the
    // client is still sending (its body never ends here).
    const chunk = 'x'.repeat(70_000);
    const exchange = rawExchange(
      request('Transfer-Encoding: chunked\r\n', `${chunk.length.toString(16)}\r\n${chunk}\r\n`),
    );
    const answer = await exchange.response;
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { code: 'payload_too_large', message: 'The request body exceeds 65536 bytes.' },
    });
    await exchange.closed;
  });

  it('serves a chunked body under the policy limit, sent in many pieces, as sent', async () => {
    // The ordinary chunked upload (Python requests with a generator, fetch with a stream) goes through the
    // policy-limit counter too: every piece must reach the body, in order; 65 536 bytes exactly still pass.
    const base = chatBody(',"user":"').slice(0, -1);
    const room = 65_536 - base.length - 2;
    const padding = 'é'.repeat(Math.floor(room / 2)) + 'x'.repeat(room % 2);
    const body = `${base}${padding}"}`;
    expect(Buffer.byteLength(body)).toBe(65_536);
    const pieces = Buffer.from(body)
      .toString('latin1')
      .match(/[\s\S]{1,1000}/g)!
      .map((piece) => `${Buffer.byteLength(piece, 'latin1').toString(16)}\r\n${piece}\r\n`)
      .join('');
    const exchange = rawExchange(
      request('Transfer-Encoding: chunked\r\nConnection: close\r\n', `${pieces}0\r\n\r\n`),
    );
    const answer = await exchange.response;
    expect(answer.status).toBe(200);
    expect(harness.backends['mock-a'].requests().map((sent) => (sent.body as { user: string }).user)).toEqual(
      [padding],
    );
  });

  it('answers Expect: 100-continue with the 413 itself when the declared body is too large', async () => {
    // Not 100 Continue first: the client would upload 100 MB to be refused (and Node would read them all).
    const { hostname, port } = new URL(harness.url);
    const socket = connect(Number(port), hostname, () =>
      socket.write(request('Expect: 100-continue\r\nContent-Length: 100000000\r\n')),
    );
    sockets.add(socket);
    socket.setEncoding('latin1');
    let text = '';
    const closed = new Promise((resolve) => socket.on('close', resolve));
    await new Promise<void>((resolve) =>
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (text.endsWith('}}')) resolve();
      }),
    );
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toContain('"code":"payload_too_large"');
    // The client held its body back: the connection cannot be reused, and is closed.
    expect(text.toLowerCase()).toContain('connection: close');
    await closed;
  });

  it('sends 100 Continue to a client that waits for it before sending its body', async () => {
    const body = chatBody();
    const { hostname, port } = new URL(harness.url);
    const socket = connect(Number(port), hostname, () =>
      socket.write(
        request(`Expect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n`),
      ),
    );
    sockets.add(socket);
    socket.setEncoding('latin1');
    let text = '';
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write(body);
    });
    await new Promise((resolve) => socket.on('close', resolve));
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(text).toContain('"object":"chat.completion"');
  });

  it('answers an expectation it does not know like any request, not with a bare 417', async () => {
    const body = chatBody();
    const exchange = rawExchange(
      request(`Expect: something-else\r\nContent-Length: ${body.length}\r\n`, body),
    );
    const answer = await exchange.response;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ object: 'chat.completion' });
  });

  it('refuses an HTTP/1.1 request without Host in a catalogue shape, not with an empty 400', async () => {
    const exchange = rawExchange(`GET /v1/models HTTP/1.1\r\nAuthorization: Bearer ${demoKey}\r\n\r\n`);
    const answer = await exchange.response;
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body || '{}')).toMatchObject({
      error: { code: 'invalid_request', type: 'invalid_request_error' },
    });
  });
});
