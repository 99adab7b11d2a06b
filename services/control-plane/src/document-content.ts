/**
 * Whether a config document's text holds no YAML value at all: only blank lines, comments, directives and
 * document markers. Such a document would be read as an empty config (no backends, no routes, no keys), but
 * it is far more often a document caught being written (truncated first, then written), a generator that
 * failed (`render > policies.yaml`, `etcdctl put … "$(cat missing.yaml)"`) or the header comment of a cut
 * file than an intent to revoke everything, so the sources refuse it: `{}` says "nothing" explicitly.
 */
export function hasNoContent(text: string): boolean {
  return text.split('\n').every((line) => NO_CONTENT_LINE.test(line));
}

// A blank or comment line (\s covers a byte order mark and a CR), a directive (%YAML, %TAG), or a document
// start/end marker with an optional comment.
const NO_CONTENT_LINE = /^(\s*(#.*)?|%.*|(---|\.\.\.)(\s+#.*)?\s*)$/;
