/** `text` as one POSIX shell word: single-quoted, embedded single quotes spelled '\''. */
export function quoteShellArgument(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
