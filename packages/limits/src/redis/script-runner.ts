import { createHash } from 'node:crypto';
import { Command, type Cluster, type Redis } from 'ioredis';

/** A Lua script run with EVALSHA (one short command), and with EVAL when Redis does not have it cached. */
export interface Script {
  readonly lua: string;
  readonly sha: string;
}

export function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Runs scripts: `now` resolves with the reply or rejects with the client's error; `lazy` too, for calls no
 * request waits on (settlements, releases), which it may hold back a little to share a write.
 */
export interface ScriptRunner {
  now(script: Script, args: (string | number)[]): Promise<unknown>;
  /**
   * Sent with the next `now` call's write, or `lazyDelayMs` after the first held call at the latest. A
   * request's settlement then usually leaves with the next request's admission — one write and one reply
   * read for both instead of two each — at the price of ending a reservation up to `lazyDelayMs` later
   * (its concurrency slot and reserved budget are freed that much later: never an overshoot).
   */
  lazy(script: Script, args: (string | number)[]): Promise<unknown>;
}

/** How long a lazy call may wait for a write to share, by default. */
export const DEFAULT_LAZY_DELAY_MS = 2;

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
 * than the write they save at low concurrency. Lazy calls are held until the next call or `lazyDelayMs`
 * (see {@link ScriptRunner.lazy}), then sent in order before it. Replies, errors, the offline queue and
 * `commandTimeout` are ioredis's as for any command. A Redis Cluster client keeps ioredis's own routing,
 * and sends lazy calls at once.
 */
export function createScriptRunner(
  redis: Redis | Cluster,
  lazyDelayMs: number = DEFAULT_LAZY_DELAY_MS,
): ScriptRunner {
  if (redis.isCluster) {
    const cluster = redis as Cluster;
    const now: ScriptRunner['now'] = (which, args) =>
      cluster.evalsha(which.sha, ...(args as [number, ...string[]])).catch((error: unknown) => {
        if (!isNoScript(error)) throw error;
        return cluster.eval(which.lua, ...(args as [number, ...string[]]));
      });
    return { now, lazy: now };
  }
  const client = redis as Redis;
  let corked: Redis['stream'] | undefined;
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
    if (corked === undefined && client.status === 'ready') {
      corked = client.stream;
      corked.cork();
      setImmediate(uncork);
    }
    void client.sendCommand(command);
    return command.promise;
  };
  const run = (which: Script, args: (string | number)[]): Promise<unknown> =>
    send('evalsha', which.sha, args).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      return send('eval', which.lua, args);
    });

  let held: (() => void)[] = [];
  // Ref'd on purpose: a shutdown that waits for settlements must see them sent, not the process exit.
  let heldTimer: NodeJS.Timeout | undefined;
  const sendHeld = (): void => {
    if (heldTimer !== undefined) clearTimeout(heldTimer);
    heldTimer = undefined;
    const calls = held;
    held = [];
    for (const call of calls) call();
  };
  return {
    now(which, args) {
      if (held.length > 0) sendHeld();
      return run(which, args);
    },
    lazy(which, args) {
      if (lazyDelayMs <= 0) return run(which, args);
      return new Promise((resolve, reject) => {
        held.push(() => {
          run(which, args).then(resolve, reject);
        });
        heldTimer ??= setTimeout(sendHeld, lazyDelayMs);
      });
    },
  };
}
