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
  // Called for each covered field, before any key is known: no entry pair per header line (a request may
  // carry 2000 lines), and the length compared before any case folding.
  for (const fieldName of Object.keys(headers)) {
    if (fieldName.length !== wanted.length || fieldName.toLowerCase() !== wanted) continue;
    const value = headers[fieldName];
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      lines.push(...(value as readonly string[]));
    } else {
      lines.push(String(value));
    }
  }
  if (lines.length === 0) {
    return undefined;
  }
  return lines.map((line) => trimFieldWhitespace(line.replace(/\r?\n[ \t]+/g, ' '))).join(', ');
}

/**
 * `text` without leading or trailing HTTP whitespace (SP, HTAB, and the CR / LF that fetch also strips).
 * Not String#trim, which also strips U+00A0: Node passes that obs-text byte on in field values, and a value
 * trimmed of it would verify a signature made over a value without it.
 */
export function trimFieldWhitespace(text: string): string {
  // A loop, not /[ \t]+$/: that regex is quadratic in a long run of inner whitespace.
  let start = 0;
  let end = text.length;
  while (start < end && isHttpWhitespace(text.charCodeAt(start))) start += 1;
  while (end > start && isHttpWhitespace(text.charCodeAt(end - 1))) end -= 1;
  return text.slice(start, end);
}

function isHttpWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}
