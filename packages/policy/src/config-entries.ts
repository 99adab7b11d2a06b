import { formatConfigPath, type ConfigPath } from './config-document.js';

// Raw-YAML accessors shared by the cross-reference checks (config-references.ts, limit-references.ts).

/** A problem found by a cross-reference check, located by its path in the document. */
export interface ReferenceProblem {
  path: ConfigPath;
  message: string;
}

/** An object of a config document, as raw YAML data. */
export type Entry = Readonly<Record<string, unknown>>;

/** Reports duplicates of `entry[field]` and returns the set of its string values. */
export function checkUnique(
  entries: readonly (readonly [number, Entry])[],
  listPath: ConfigPath,
  field: string,
  label: string,
  problems: ReferenceProblem[],
): Set<string> {
  const firstIndex = new Map<string, number>();
  for (const [index, entry] of entries) {
    const value = entry[field];
    if (typeof value !== 'string') continue;
    const previous = firstIndex.get(value);
    if (previous === undefined) {
      firstIndex.set(value, index);
    } else {
      // Secrets' hashes are not repeated in the message: knowing two entries share one is enough.
      const shown = field === 'sha256' || field === 'secretSha256' ? '' : ` "${value}"`;
      problems.push({
        path: [...listPath, index, field],
        message: `duplicate ${label}${shown} (first used at ${formatConfigPath([...listPath, previous])})`,
      });
    }
  }
  return new Set(firstIndex.keys());
}

/** The object entries of the array at `value[key]`, with their indexes; non-objects are skipped. */
export function entriesAt(value: unknown, key: string): (readonly [number, Entry])[] {
  if (!isEntry(value)) return [];
  const list = value[key];
  if (!Array.isArray(list)) return [];
  const entries: (readonly [number, Entry])[] = [];
  for (const [index, item] of (list as unknown[]).entries()) {
    if (isEntry(item)) entries.push([index, item]);
  }
  return entries;
}

export function isEntry(value: unknown): value is Entry {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
