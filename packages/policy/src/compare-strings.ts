/** Orders strings by UTF-16 code units, independent of the locale (`localeCompare` is not). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
