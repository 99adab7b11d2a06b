/**
 * HTTP header fields as plain values. Node's `IncomingHttpHeaders` (lower-case names, repeated fields as
 * arrays) fits, and so does a hand-written record with mixed-case names.
 */
export type HeaderMap = Readonly<Record<string, string | readonly string[] | number | undefined>>;

/**
 * The combined value of every field line named `name` (case-insensitive), as RFC 9421 §2.1 builds it for
 * the signature base: each line trimmed, obsolete line folding replaced by a space, lines joined with ", ".
 * Returns undefined when the field is absent.
 */
export function getFieldValue(headers: HeaderMap, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const lines: string[] = [];
  for (const [fieldName, value] of Object.entries(headers)) {
    if (value === undefined || fieldName.toLowerCase() !== wanted) {
      continue;
    }
    if (Array.isArray(value)) {
      lines.push(...(value as readonly string[]));
    } else {
      lines.push(String(value));
    }
  }
  if (lines.length === 0) {
    return undefined;
  }
  return lines.map((line) => line.replace(/\r?\n[ \t]+/g, ' ').trim()).join(', ');
}
