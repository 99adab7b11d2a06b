import type { z } from 'zod';
import {
  formatConfigPath,
  type ConfigDocument,
  type ConfigDocuments,
  type ConfigPath,
} from './config-document.js';
import { ConfigInvalidError, type ConfigIssue } from './config-issue.js';
import {
  checkPoliciesReferences,
  checkRouterReferences,
  type ReferenceProblem,
} from './config-references.js';
import { PoliciesConfigSchema, RouterConfigSchema, type ParsedConfig } from './config-schema.js';
import { checkPriceCoverage } from './price-coverage.js';
import { checkTokenBursts } from './token-burst-coverage.js';
import { parseYamlSource, type YamlSource } from './yaml-source.js';

/**
 * Parses both YAML documents and validates them: schema (strict, defaults filled in) and cross references
 * (duplicate ids, unknown backends and tenants, routes whose weights are all zero...). Once both documents
 * are valid on their own, checks what spans both: budgets (policies.yaml) need prices (router.yaml), and
 * token bursts must fit a request that uses the default output cap (settings.defaultMaxOutputTokens).
 *
 * @throws ConfigInvalidError listing every issue found in both documents, each with its source, path and
 *   1-based line, ordered by document then line.
 */
export function parseConfig(documents: ConfigDocuments): ParsedConfig {
  const router = validateDocument(documents.router, RouterConfigSchema, checkRouterReferences);
  const policies = validateDocument(documents.policies, PoliciesConfigSchema, checkPoliciesReferences);
  if (router.config === undefined || policies.config === undefined) {
    throw new ConfigInvalidError([...router.issues, ...policies.issues]);
  }
  const config = { router: router.config, policies: policies.config };
  const crossIssues = [
    ...checkPriceCoverage(config).map((problem) =>
      makeIssue(documents.router, router.source, problem.path, problem.message),
    ),
    ...checkTokenBursts(config).map((problem) =>
      makeIssue(documents.policies, policies.source, problem.path, problem.message),
    ),
  ];
  if (crossIssues.length > 0) throw new ConfigInvalidError(crossIssues);
  return config;
}

interface DocumentResult<T> {
  config: T | undefined;
  issues: ConfigIssue[];
  source: YamlSource;
}

function validateDocument<S extends z.ZodType>(
  document: ConfigDocument,
  schema: S,
  checkReferences: (value: unknown) => ReferenceProblem[],
): DocumentResult<z.output<S>> {
  const source = parseYamlSource(document);
  if (source.issues.length > 0) return { config: undefined, issues: [...source.issues], source };
  // An empty document means "nothing configured", not "not an object".
  const value = source.value ?? {};
  const result = schema.safeParse(value);
  const issues = result.success
    ? []
    : result.error.issues.flatMap((issue) => fromZodIssue(issue, value, source, document));
  for (const problem of checkReferences(value)) {
    issues.push(makeIssue(document, source, problem.path, problem.message));
  }
  if (issues.length > 0) return { config: undefined, issues: sortIssues(issues), source };
  return { config: result.data, issues: [], source };
}

function fromZodIssue(
  issue: z.core.$ZodIssue,
  value: unknown,
  source: YamlSource,
  document: ConfigDocument,
): ConfigIssue[] {
  const path = issue.path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment));
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const keyPath = [...path, key];
      return {
        source: document.source,
        path: formatConfigPath(keyPath),
        line: source.lineOf(keyPath, { atKey: true }),
        // YAML 1.1's merge key reads, under YAML 1.2, as a field named "<<": say why nothing was merged.
        message:
          key === '<<'
            ? 'unknown field "<<": YAML 1.2 has no merge keys, so nothing is merged; write the fields out (an ' +
              'alias can still stand for a whole value)'
            : `unknown field "${key}"`,
      };
    });
  }
  // zod says "expected string, received undefined" for a missing field; say it in the operator's words.
  const missing =
    (issue.code === 'invalid_type' || issue.code === 'invalid_union') && valueAt(value, path) === undefined;
  const last = path[path.length - 1];
  const message = missing && typeof last === 'string' ? `missing required field "${last}"` : issue.message;
  return [makeIssue(document, source, path, message)];
}

function valueAt(value: unknown, path: ConfigPath): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

function makeIssue(
  document: ConfigDocument,
  source: YamlSource,
  path: ConfigPath,
  message: string,
): ConfigIssue {
  return { source: document.source, path: formatConfigPath(path), line: source.lineOf(path), message };
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort((a, b) => a.issue.line - b.issue.line || a.index - b.index)
    .map(({ issue }) => issue);
}
