/** One problem found in a config document. */
export interface ConfigIssue {
  /** File path or etcd key of the document that holds the problem. */
  source: string;
  /** Location inside the document, e.g. "routes[2].targets[0].weight"; "" for the document as a whole. */
  path: string;
  /** 1-based line in the source; 0 when unknown. */
  line: number;
  message: string;
}

/** Formats an issue as "source:line path: message" for logs and error messages. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const location = issue.line > 0 ? `${issue.source}:${issue.line}` : issue.source;
  const path = issue.path === '' ? '' : ` ${issue.path}`;
  return `${location}${path}: ${issue.message}`;
}

/**
 * Thrown by `parseConfig` when a config document is malformed or inconsistent. Carries every issue found,
 * not only the first, so an operator can fix a config in one go; `message` summarises the first one.
 */
export class ConfigInvalidError extends Error {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const first = issues[0];
    const summary = first === undefined ? 'invalid config' : formatConfigIssue(first);
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more issue(s))` : '';
    super(`invalid config: ${summary}${more}`);
    this.name = 'ConfigInvalidError';
    this.issues = Object.freeze([...issues]);
  }
}
