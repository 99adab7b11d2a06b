import { execFile } from 'node:child_process';

export interface RunCommandOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Default 120 000 ms; the command is killed after it. */
  timeoutMs?: number;
}

/**
 * Runs a command to completion and resolves with its stdout. Rejects with an error whose message holds
 * the exit status and the last 4 KiB of stdout and stderr, for one-shot steps such as initdb or mvn.
 */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions = {},
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile(
      command,
      [...args],
      {
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 16 * 1024 * 1024,
        ...(options.uid === undefined ? {} : { uid: options.uid }),
        ...(options.gid === undefined ? {} : { gid: options.gid }),
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        const output = `${stdout}\n${stderr}`.trim().slice(-4096);
        reject(
          new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${output}`, { cause: error }),
        );
      },
    );
  });
}
