/** A function's place in a V8 profile (CPU or sampling heap profile, DevTools format). */
export interface V8CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

/** `name file:line`, the file shortened to its package or to `services/…` / `packages/…`; builtins by name. */
export function functionOf(frame: V8CallFrame): string {
  const where = frame.url
    .replace(/.*node_modules\//, '')
    .replace(/.*\/(services|packages)\//, '$1/')
    .replace(/^file:\/\//, '');
  const name = frame.functionName || '(anonymous)';
  return where === '' ? name : `${name} ${where}:${frame.lineNumber + 1}`;
}
