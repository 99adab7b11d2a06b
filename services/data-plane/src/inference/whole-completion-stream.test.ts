import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RouterError } from '@api-router/errors';
import { openAICompatibleAdapter } from '../upstream/adapters/openai-compatible-adapter.js';
import { isJsonResponse, wholeCompletionAsStream } from './whole-completion-stream.js';

async function readAll(body: AsyncIterable<Buffer>): Promise<string> {
  let text = '';
  for await (const chunk of body) text += chunk.toString('utf8');
  return text;
}

const completion = JSON.stringify({
  id: 'c1',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
});

describe('isJsonResponse', () => {
  it('is true for JSON media types only, whatever the case and parameters', () => {
    for (const type of ['application/json', 'Application/JSON; charset=utf-8', 'application/vnd.x+json'])
      expect(isJsonResponse({ 'content-type': type })).toBe(true);
    for (const type of [
      undefined,
      'text/event-stream',
      'text/event-stream; charset=utf-8',
      'application/jsonl',
    ])
      expect(isJsonResponse({ 'content-type': type })).toBe(false);
  });
});

describe('wholeCompletionAsStream', () => {
  it('reads a completion split anywhere, after blank chunks, and gives its events', async () => {
    const pieces = ['\n ', completion.slice(0, 5), completion.slice(5)].map((piece) => Buffer.from(piece));
    const text = await readAll(wholeCompletionAsStream(Readable.from(pieces), openAICompatibleAdapter, 1000));
    expect(text).toContain('"delta":{"content":"Hi"}');
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  it('fails a body over the limit as a JSON answer does, and destroys it', async () => {
    const body = Readable.from([Buffer.from(completion.slice(0, 10)), Buffer.from(completion.slice(10))]);
    const error = await readAll(wholeCompletionAsStream(body, openAICompatibleAdapter, 20)).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RouterError);
    expect(error).toMatchObject({ code: 'upstream_error', details: { max_bytes: 20 } });
    expect(body.destroyed).toBe(true);
  });

  it('relays a body that is not a JSON object as it arrives', async () => {
    const sse = 'data: {"choices":[]}\n\ndata: [DONE]\n\n';
    const text = await readAll(
      wholeCompletionAsStream(Readable.from([Buffer.from(sse)]), openAICompatibleAdapter, 10),
    );
    expect(text).toBe(sse);
  });
});
