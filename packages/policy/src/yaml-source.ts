import {
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Node,
} from 'yaml';
import type { ConfigDocument, ConfigPath } from './config-document.js';
import type { ConfigIssue } from './config-issue.js';

/** A parsed YAML document that still knows where each value came from. */
export interface YamlSource {
  /** Plain JavaScript value of the document; undefined when the YAML is malformed or empty. */
  readonly value: unknown;
  /**
   * Syntax errors, warnings (unresolved tags...), a %YAML 1.1 directive and numbers written with more digits
   * than a number keeps, each with its line. Non-empty means `value` is undefined.
   */
  readonly issues: readonly ConfigIssue[];
  /**
   * 1-based line of the node at `path`, or of its deepest existing ancestor (so a missing required field
   * points at the object that lacks it). With `atKey`, the line of the last segment's key instead of its
   * value (used for unknown fields). 0 when nothing matches.
   */
  lineOf(path: ConfigPath, options?: { atKey?: boolean }): number;
}

// Aliases are legitimate in hand-written config (shared target lists, one limits block for every key), but
// what they expand to is bounded: at most this many nodes in all, which stops an exponential ("billion
// laughs") nesting long before it costs much memory or time. (The yaml library's own maxAliasCount bounds
// the references to each anchor instead: at its default of 100, a limits block shared by 100 keys failed.)
const MAX_ALIAS_EXPANSION_NODES = 1_000_000;

/** Parses YAML text keeping node positions. Never throws: malformed YAML becomes issues. */
export function parseYamlSource(document: ConfigDocument): YamlSource {
  try {
    return readYamlSource(document);
  } catch (error: unknown) {
    // The yaml library recurses once per nesting level (parsing, visiting, toJS): a few thousand levels —
    // a few kilobytes of "[[[[" — overflow the stack, which V8 throws as a RangeError or, from inside a
    // regular expression, a SyntaxError. No config is nested that deep; it is malformed input, not a bug.
    if (!(error instanceof Error) || !error.message.includes('Maximum call stack size exceeded')) throw error;
    const message = 'malformed YAML: nested too deeply to be read';
    return {
      value: undefined,
      issues: [{ source: document.source, path: '', line: 0, message }],
      lineOf: () => 0,
    };
  }
}

function readYamlSource(document: ConfigDocument): YamlSource {
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
          (item) => isPair(item) && isScalar(item.key) && jsKeyOf(item.key.value) === segment,
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

  // Warnings count as errors: each is text the library read as something other than what it may say (a tag
  // it cannot resolve is dropped and the plain value kept: `id: !env NAME` would read as "NAME"; an anchor or
  // alias ending in ":"; an unsupported directive), except a flow collection's closing bracket at its
  // parent's indentation, which is only style.
  const problems = [...parsed.errors, ...parsed.warnings.filter((warning) => warning.code !== 'BAD_INDENT')];
  if (problems.length > 0) {
    const issues = problems
      .map((error) => ({
        source: document.source,
        path: '',
        line: lineAt(error.pos[0]),
        message: `malformed YAML: ${firstLine(error.message)}`,
      }))
      .sort((a, b) => a.line - b.line);
    return { value: undefined, issues, lineOf };
  }
  // A %YAML 1.1 directive switches the yaml library to YAML 1.1, where the same text means other values.
  if (parsed.directives?.yaml.version === '1.1') {
    const directive = /^%YAML\b/m.exec(document.text);
    const message =
      'malformed YAML: only YAML 1.2 is read (under %YAML 1.1, no/on/off are booleans, 010 is octal and << ' +
      'merges mappings): remove the directive';
    const line = directive === null ? 0 : lineAt(directive.index);
    return { value: undefined, issues: [{ source: document.source, path: '', line, message }], lineOf };
  }
  const inexact = [...inexactNumbers(parsed), ...octalLookingIntegers(parsed)].map(({ offset, message }) => ({
    source: document.source,
    path: '',
    line: lineAt(offset),
    message,
  }));
  if (inexact.length > 0) return { value: undefined, issues: inexact, lineOf };
  if (aliasExpansion(parsed) > MAX_ALIAS_EXPANSION_NODES) {
    const message = `malformed YAML: aliases expand to more than ${MAX_ALIAS_EXPANSION_NODES} nodes`;
    return { value: undefined, issues: [{ source: document.source, path: '', line: 0, message }], lineOf };
  }
  try {
    return { value: parsed.toJS({ maxAliasCount: -1 }) as unknown, issues: [], lineOf };
  } catch (error: unknown) {
    // toJS only throws for an alias it cannot resolve (no anchor before it): report it as an issue.
    const message = error instanceof Error ? error.message : String(error);
    return {
      value: undefined,
      issues: [{ source: document.source, path: '', line: 0, message: `malformed YAML: ${message}` }],
      lineOf,
    };
  }
}

/**
 * Numbers written with more significant digits than a JavaScript number keeps (e.g. 0.1000000000000000001,
 * read as 0.1): read as they are, they would mean another value than the one written, and a price or budget
 * would be rounded, possibly down, instead of refused for its decimal places.
 */
function inexactNumbers(parsed: ReturnType<typeof parseDocument>): { offset: number; message: string }[] {
  const found: { offset: number; message: string }[] = [];
  visit(parsed, {
    Scalar(_key, node) {
      const source = node.source ?? '';
      // Integers are left alone: YAML 1.1 reads 010 as octal, and an integer too long to keep is out of
      // every field's range anyway.
      if (typeof node.value !== 'number' || !/[.eE]/.test(source) || !isNodeWithRange(node)) return;
      const read = String(node.value);
      const written = decimalValue(source);
      if (written === undefined || written === decimalValue(read)) return;
      found.push({
        offset: node.range[0],
        message: `number ${source} cannot be read exactly (it would read as ${read}): write fewer digits`,
      });
    },
  });
  return found;
}

/**
 * Integers written with a leading zero (010): YAML 1.2 reads them as decimal (10), YAML 1.1 as octal (8), and
 * an operator may mean either; refused rather than read one way.
 */
function octalLookingIntegers(
  parsed: ReturnType<typeof parseDocument>,
): { offset: number; message: string }[] {
  const found: { offset: number; message: string }[] = [];
  visit(parsed, {
    Scalar(_key, node) {
      const match = /^([-+]?)0+(\d+)$/.exec(node.source ?? '');
      if (typeof node.value !== 'number' || match === null || !isNodeWithRange(node)) return;
      const [, sign = '', digits = ''] = match;
      // YAML 1.2 has no signed octal (-0o12 is a string), nor octal digits 8 and 9.
      const octal = sign === '' && /^[0-7]+$/.test(digits) ? `, or 0o${digits} for octal` : '';
      found.push({
        offset: node.range[0],
        message:
          `number ${node.source ?? ''} has a leading zero, which YAML 1.1 reads as octal: write ` +
          `${sign === '-' ? '-' : ''}${digits}${octal}`,
      });
    },
  });
  return found;
}

/** Nodes the aliases of a document add once each is replaced by the node it refers to. */
function aliasExpansion(parsed: ReturnType<typeof parseDocument>): number {
  // One pass in document order resolves every alias to the latest node anchored before it, as YAML does
  // (yaml's Alias.resolve walks the whole document for each alias).
  const anchored = new Map<string, unknown>();
  const sources = new Map<unknown, unknown>();
  visit(parsed, (_key, node) => {
    if (isAlias(node)) sources.set(node, anchored.get(node.source));
    else if ((isScalar(node) || isCollection(node)) && node.anchor !== undefined) {
      anchored.set(node.anchor, node);
    }
  });
  const sizes = new Map<unknown, number>();
  // Nodes of `node` with every alias expanded (memoized per collection, so this stays linear).
  const sizeOf = (node: unknown): number => {
    if (isAlias(node)) return sizeOf(sources.get(node));
    if (isPair(node)) return sizeOf(node.key) + sizeOf(node.value);
    if (!isCollection(node)) return node === null || node === undefined ? 0 : 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    sizes.set(node, Number.POSITIVE_INFINITY); // an alias inside the node it refers to never ends
    let size = 1;
    for (const item of node.items) size += sizeOf(item);
    sizes.set(node, size);
    return size;
  };
  let expansion = 0;
  for (const source of sources.values()) expansion += sizeOf(source) - 1;
  return expansion;
}

const DECIMAL_NUMBER_TEXT = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/;

/** A decimal number text in one form per value ("-125e-2"); undefined for other texts (hex, .inf...). */
function decimalValue(text: string): string | undefined {
  const match = DECIMAL_NUMBER_TEXT.exec(text);
  if (match === null) return undefined;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  if (whole === '' && fraction === '') return undefined;
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = digits.replace(/0+$/, '');
  const power = BigInt(exponent) - BigInt(fraction.length) + BigInt(digits.length - significant.length);
  return `${sign === '-' ? '-' : ''}${significant}e${power}`;
}

function isNodeWithRange(node: unknown): node is Node & { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && Array.isArray((node as { range?: unknown }).range);
}

/**
 * The property name `toJS` gives a scalar key (and so the one in a validation path): a key YAML reads as a
 * number or a boolean becomes its text ("1", "true"), a null key becomes "".
 */
function jsKeyOf(value: unknown): unknown {
  if (value === null) return '';
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

function firstLine(message: string): string {
  const newline = message.indexOf('\n');
  return newline === -1 ? message : message.slice(0, newline);
}
