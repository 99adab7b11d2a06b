import { Transform, type TransformCallback } from 'node:stream';

/**
 * A pass-through stream that fails with `tooLarge()` as soon as more than `maxBytes` went through: put
 * (in a preParsing hook) in front of a body whose length is not declared (chunked), so that it is refused
 * at the policy's limit while it is read, not once the server's larger ceiling, or its end, is reached.
 */
export function limitBodyLength(
  source: NodeJS.ReadableStream,
  maxBytes: number,
  tooLarge: () => Error,
): Transform {
  let received = 0;
  const limited = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      received += chunk.length;
      if (received > maxBytes) callback(tooLarge());
      else callback(null, chunk);
    },
  });
  // The source's own failure (a client that left mid-upload) reaches the body reader as before.
  source.on('error', (error: Error) => limited.destroy(error));
  return source.pipe(limited);
}
