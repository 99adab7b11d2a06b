/** Where a command-line tool writes; process.stdout / process.stderr when run from a shell, fakes in tests. */
export interface CliOutput {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}
