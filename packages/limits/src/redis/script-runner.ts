import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Command, type Cluster, type Redis } from 'ioredis';
import { argumentValues, encodeArguments, type ScriptArgument } from './script-arguments.js';

/** A Lua script run with EVALSHA (one short command), and with EVAL when Redis does not have it cached. */
export interface Script {
  readonly lua: string;
  readonly sha: string;
  /** `evalsha <sha>` and `eval <lua>` as they start a request, after its argument count. */
  readonly evalshaWire: string;
  readonly evalWire: string;
  /**
   * The script replies with integers (or arrays of them) only: ioredis need not walk the reply to turn
   * bulk strings into text. Other scripts' bulk strings arrive as UTF-8 strings.
   */
  readonly integerReplies: boolean;
}

export function script(lua: string, options: { integerReplies?: boolean } = {}): Script {
  const sha = createHash('sha1').update(lua).digest('hex');
  return {
    lua,
    sha,
    evalshaWire: `$7\r\nevalsha\r\n$${sha.length}\r\n${sha}\r\n`,
    evalWire: `$4\r\neval\r\n$${Buffer.byteLength(lua)}\r\n${lua}\r\n`,
    integerReplies: options.integerReplies ?? false,
  };
}

/** Runs `script` with `args` (numkeys, keys, argv); resolves with the reply, rejects with the client's error. */
export type ScriptRunner = (script: Script, args: readonly ScriptArgument[]) => Promise<unknown>;

/** How long calls may collect in a corked socket before the next call flushes them (ms). */
const MAX_CORKED_MS = 1;

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * A command whose request the runner encoded itself, so ioredis's per-command argument work (flattening,
 * converting numbers, key-prefix lookup, then encoding: ~40% of ioredis's CPU per script call in a profile
 * of the data plane under load) is skipped; replies, errors and the command queue are ioredis's as for any
 * command. It arms no timer: ioredis arms one per command when the client has `commandTimeout`, and
 * whoever runs scripts bounds each call already (the limit store: CallDeadlines, one timer for all calls).
 */
class EncodedCommand extends Command {
  readonly #wire: string;

  constructor(name: 'evalsha' | 'eval', wire: string, integerReplies: boolean) {
    super(name, [], { replyEncoding: integerReplies ? null : 'utf8' });
    this.#wire = wire;
  }

  override toWritable(): string {
    return this.#wire;
  }

  override setTimeout(): void {
    // No per-command timer: see the class comment.
  }
}

/**
 * EVALSHA, falling back to EVAL (which caches the script) after a NOSCRIPT reply: the first call on a fresh
 * or restarted Redis, or after SCRIPT FLUSH, costs one extra round trip. The caller bounds how long a call
 * may wait (the runner arms no timer on a single client: see EncodedCommand).
 *
 * On a single Redis client the commands bypass ioredis's command helpers and auto-pipelining: each is one
 * encoded command handed to `sendCommand` (written to the socket at once), and the socket is corked from
 * the first script call until the check phase of the same event loop iteration (`setImmediate`), so that
 * the calls made by every I/O callback of the iteration (many requests under load) leave in one write —
 * what auto-pipelining does, without its pipeline object, promise and callback per command, which cost
 * more than the write they save at low concurrency. A socket corked for {@link MAX_CORKED_MS} is flushed
 * at the next call instead: on a busy loop the check phase comes only after every I/O callback of the
 * turn, and the first admission of a long turn would wait for all of it. The client must not have a
 * `keyPrefix` (the store prefixes its keys itself; encoded commands would not get the client's). A Redis
 * Cluster client keeps ioredis's own routing and commands.
 */
export function createScriptRunner(redis: Redis | Cluster): ScriptRunner {
  if (redis.isCluster) {
    const cluster = redis as Cluster;
    return (which, args) => {
      const values = argumentValues(args) as [number, ...string[]];
      return cluster.evalsha(which.sha, ...values).catch((error: unknown) => {
        if (!isNoScript(error)) throw error;
        return cluster.eval(which.lua, ...values);
      });
    };
  }
  const client = redis as Redis;
  if (client.options.keyPrefix) {
    throw new RangeError('the Redis client must not have a keyPrefix: the limit store prefixes its keys');
  }
  let corked: Redis['stream'] | undefined;
  let corkedAtMs = 0;
  const uncork = (): void => {
    const stream = corked;
    corked = undefined;
    stream?.uncork();
  };
  const send = (command: EncodedCommand): Promise<unknown> => {
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
  return (which, args) => {
    const { count, wire } = encodeArguments(args);
    const header = `*${String(count + 2)}\r\n`;
    return send(new EncodedCommand('evalsha', header + which.evalshaWire + wire, which.integerReplies)).catch(
      (error: unknown) => {
        if (!isNoScript(error)) throw error;
        return send(new EncodedCommand('eval', header + which.evalWire + wire, which.integerReplies));
      },
    );
  };
}
