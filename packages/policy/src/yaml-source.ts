import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { ConfigDocument, ConfigPath } from './config-document.js';
import type { ConfigIssue } from './config-issue.js';

/** A parsed YAML document that still knows where each value came from. */
export interface YamlSource {
  /** Plain JavaScript value of the document; undefined when the YAML is malformed or empty. */
  readonly value: unknown;
  /** Syntax errors, each with its line. Non-empty means `value` is undefined. */
  readonly issues: readonly ConfigIssue[];
  /**
   * 1-based line of the node at `path`, or of its deepest existing ancestor (so a missing required field
   * points at the object that lacks it). With `atKey`, the line of the last segment's key instead of its
   * value (used for unknown fields). 0 when nothing matches.
   */
  lineOf(path: ConfigPath, options?: { atKey?: boolean }): number;
}

// Aliases are legitimate in hand-written config (shared target lists), but each may expand to at most this
// many nodes, which bounds memory against exponential alias nesting.
const MAX_ALIAS_COUNT = 100;

/** Parses YAML text keeping node positions. Never throws: malformed YAML becomes issues. */
export function parseYamlSource(document: ConfigDocument): YamlSource {
  const lineCounter = new LineCounter();
  const parsed = parseDocument(document.text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;

  const lineOf = (path: ConfigPath, options?: { atKey?: boolean }): number => {
    let node: unknown = parsed.contents;
    let line = node !== null && isNodeWithRange(node) ? lineAt(node.range[0]) : 0;
    for (const [index, segment] of path.entries()) {
      const isLast = index === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && item.key.value === segment,
        );
        if (pair === undefined) return line;
        if (isLast && options?.atKey === true && isNodeWithRange(pair.key)) return lineAt(pair.key.range[0]);
        node = pair.value;
        // A pair with an empty value ("key:") has no value node: point at its key.
        if (!isNodeWithRange(node)) return isNodeWithRange(pair.key) ? lineAt(pair.key.range[0]) : line;
      } else if (isSeq(node) && typeof segment === 'number') {
        node = node.items[segment];
        if (!isNodeWithRange(node)) return line;
      } else {
        return line;
      }
      line = lineAt(node.range[0]);
    }
    return line;
  };

  if (parsed.errors.length > 0) {
    const issues = parsed.errors.map((error) => ({
      source: document.source,
      path: '',
      line: lineAt(error.pos[0]),
      message: `malformed YAML: ${firstLine(error.message)}`,
    }));
    return { value: undefined, issues, lineOf };
  }
  try {
    return { value: parsed.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown, issues: [], lineOf };
  } catch (error: unknown) {
    // toJS only throws for alias abuse (an exponential "billion laughs" expansion): report it as an issue.
    const message = error instanceof Error ? error.message : String(error);
    return {
      value: undefined,
      issues: [{ source: document.source, path: '', line: 0, message: `malformed YAML: ${message}` }],
      lineOf,
    };
  }
}

function isNodeWithRange(node: unknown): node is Node & { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && Array.isArray((node as { range?: unknown }).range);
}

function firstLine(message: string): string {
  const newline = message.indexOf('\n');
  return newline === -1 ? message : message.slice(0, newline);
}
