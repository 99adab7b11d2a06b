import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Command, type Cluster, type Redis } from 'ioredis';

/** A Lua script run with EVALSHA (one short command), and with EVAL when Redis does not have it cached. */
export interface Script {
  readonly lua: string;
  readonly sha: string;
}

export function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** Runs `script` with `args` (numkeys, keys, argv); resolves with the reply, rejects with the client's error. */
export type ScriptRunner = (script: Script, args: (string | number)[]) => Promise<unknown>;

/** How long calls may collect in a corked socket before the next call flushes them (ms). */
const MAX_CORKED_MS = 1;

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * EVALSHA, falling back to EVAL (which caches the script) after a NOSCRIPT reply: the first call on a fresh
 * or restarted Redis, or after SCRIPT FLUSH, costs one extra round trip.
 *
 * On a single Redis client the commands bypass ioredis's command helpers and auto-pipelining: each is one
 * `Command` handed to `sendCommand` (written to the socket at once), and the socket is corked from the first
 * script call until the check phase of the same event loop iteration (`setImmediate`), so that the calls
 * made by every I/O callback of the iteration (many requests under load) leave in one write — what
 * auto-pipelining does, without its pipeline object, promise and callback per command, which cost more
 * than the write they save at low concurrency. A socket corked for {@link MAX_CORKED_MS} is flushed at the
 * next call instead: on a busy loop the check phase comes only after every I/O callback of the turn, and
 * the first admission of a long turn would wait for all of it. Replies, errors, the offline queue and
 * `commandTimeout` are ioredis's as for any command. A Redis Cluster client keeps ioredis's own routing.
 */
export function createScriptRunner(redis: Redis | Cluster): ScriptRunner {
  if (redis.isCluster) {
    const cluster = redis as Cluster;
    return (which, args) =>
      cluster.evalsha(which.sha, ...(args as [number, ...string[]])).catch((error: unknown) => {
        if (!isNoScript(error)) throw error;
        return cluster.eval(which.lua, ...(args as [number, ...string[]]));
      });
  }
  const client = redis as Redis;
  let corked: Redis['stream'] | undefined;
  let corkedAtMs = 0;
  const uncork = (): void => {
    const stream = corked;
    corked = undefined;
    stream?.uncork();
  };
  const send = (name: 'evalsha' | 'eval', first: string, args: (string | number)[]): Promise<unknown> => {
    const command = new Command(name, [first, args], {
      replyEncoding: 'utf8',
      keyPrefix: client.options.keyPrefix,
    });
    if (corked !== undefined && performance.now() - corkedAtMs >= MAX_CORKED_MS) {
      // Flush what collected; the check-phase uncork still comes and finds this socket corked again.
      corked.uncork();
      corked.cork();
      corkedAtMs = performance.now();
    }
    if (corked === undefined && client.status === 'ready') {
      corked = client.stream;
      corked.cork();
      corkedAtMs = performance.now();
      setImmediate(uncork);
    }
    void client.sendCommand(command);
    return command.promise;
  };
  return (which, args) =>
    send('evalsha', which.sha, args).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      return send('eval', which.lua, args);
    });
}
