import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stopPid } from './stop-pid.js';

export interface SpawnProcessOptions {
  command: string;
  args?: readonly string[];
  /** Working directory; default the caller's. */
  cwd?: string;
  /** Complete environment of the child (nothing is inherited when given); default the parent's. */
  env?: NodeJS.ProcessEnv;
  /** Lines kept per stream for `lines` and error messages; default 5 000 (older ones are dropped). */
  maxLines?: number;
}

export interface WaitForLineOptions {
  /** Default 30 000 ms. */
  timeoutMs?: number;
  /** Looked at too; default false (stdout only, where services write their JSON logs). */
  includeStderr?: boolean;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type LineListener = (line: string, stream: 'stdout' | 'stderr') => void;

/**
 * A child process started for a test, with its output captured line by line. States: running → exited.
 * Stop it in teardown with `stop()` (or `await using`), which signals it by pid and waits for it to exit.
 */
export class SpawnedProcess implements AsyncDisposable {
  readonly pid: number;
  /** Resolves when the process has exited, whatever the reason; never rejects. */
  readonly exited: Promise<ProcessExit>;
  private readonly stdoutLines: string[] = [];
  private readonly stderrLines: string[] = [];
  private readonly listeners = new Set<LineListener>();
  private exitInfo: ProcessExit | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly maxLines: number,
  ) {
    if (child.pid === undefined) throw new Error('SpawnedProcess: child has no pid');
    this.pid = child.pid;
    this.exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    this.capture('stdout');
    this.capture('stderr');
  }

  /** Spawns `command`; rejects when it cannot be started (ENOENT, EACCES …). */
  static async start(options: SpawnProcessOptions): Promise<SpawnedProcess> {
    const child = spawn(options.command, [...(options.args ?? [])], {
      cwd: options.cwd,
      ...(options.env === undefined ? {} : { env: options.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return new SpawnedProcess(child, options.maxLines ?? 5_000);
  }

  /** Captured stdout lines, oldest first. */
  get lines(): readonly string[] {
    return this.stdoutLines;
  }

  /** Captured stderr lines, oldest first. */
  get errorLines(): readonly string[] {
    return this.stderrLines;
  }

  /** Stdout lines that parse as JSON objects (pino logs), in order. */
  jsonLines(): Record<string, unknown>[] {
    return this.stdoutLines.flatMap((line) => {
      const parsed = parseJsonObject(line);
      return parsed === undefined ? [] : [parsed];
    });
  }

  /**
   * Resolves with the first line, already captured or still to come, for which `predicate` holds; `json`
   * is the line parsed as a JSON object, or undefined. Rejects on timeout or when the process exits first,
   * with the last lines of output in the message.
   */
  async waitForLine(
    predicate: (line: string, json: Record<string, unknown> | undefined) => boolean,
    options: WaitForLineOptions = {},
  ): Promise<string> {
    const includeStderr = options.includeStderr ?? false;
    const matches = (line: string): boolean => predicate(line, parseJsonObject(line));
    const seen = [...this.stdoutLines, ...(includeStderr ? this.stderrLines : [])].find(matches);
    if (seen !== undefined) return seen;
    return new Promise<string>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      const listener: LineListener = (line, stream) => {
        if ((stream === 'stdout' || includeStderr) && matches(line)) {
          cleanup();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `pid ${this.pid}: no matching line within ${options.timeoutMs ?? 30_000} ms\n${this.tail()}`,
          ),
        );
      }, options.timeoutMs ?? 30_000);
      this.listeners.add(listener);
      void this.exited.then((exit) => {
        if (!this.listeners.has(listener)) return;
        cleanup();
        reject(
          new Error(
            `pid ${this.pid} exited (${exit.code ?? exit.signal}) before a matching line\n${this.tail()}`,
          ),
        );
      });
    });
  }

  /**
   * Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `graceMs` (default 10 000).
   * Resolves with how it exited; safe to call more than once.
   */
  async stop(options: { signal?: NodeJS.Signals; graceMs?: number } = {}): Promise<ProcessExit> {
    if (this.exitInfo === undefined) await stopPid(this.pid, options);
    return this.exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** The last lines of both streams, for error messages. */
  tail(maxLines = 30): string {
    const out = this.stdoutLines.slice(-maxLines).join('\n');
    const err = this.stderrLines.slice(-maxLines).join('\n');
    return `--- stdout (last lines)\n${out}\n--- stderr (last lines)\n${err}`;
  }

  private capture(stream: 'stdout' | 'stderr'): void {
    const source = this.child[stream];
    if (source === null) return;
    const store = stream === 'stdout' ? this.stdoutLines : this.stderrLines;
    createInterface({ input: source, crlfDelay: Infinity }).on('line', (line) => {
      store.push(line);
      if (store.length > this.maxLines) store.shift();
      for (const listener of [...this.listeners]) listener(line, stream);
    });
  }
}

/** Starts a process for a test; see {@link SpawnedProcess}. */
export async function spawnProcess(options: SpawnProcessOptions): Promise<SpawnedProcess> {
  return SpawnedProcess.start(options);
}

function parseJsonObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    // Not JSON after all (a plain line starting with '{'): treated as a plain line.
    return undefined;
  }
}
