import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startInferenceHarness } from '../testing/inference-harness.test-support.js';

/** A TCP connection to `url` that sends nothing (a pool's spare socket, a health check). */
async function silentConnection(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  await once(socket, 'connect');
  return socket;
}

describe('shutdown with a connection that never sent a byte', () => {
  it('closes it instead of waiting for its headers timeout', async () => {
    const harness = await startInferenceHarness();
    const socket = await silentConnection(harness.url);
    const closed = once(socket, 'close');
    // Before the fix the data plane's close waited for Node's headers timeout (60 s) on this socket, past
    // this test's timeout.
    await harness.close();
    await closed;
    expect(socket.destroyed).toBe(true);
  });
});
