import type { ConfigPath } from './config-document.js';

// Checks that span several entries of a document: unique ids, references that resolve, weights that can
// route traffic. They run on the raw YAML value, even when the schema rejected parts of it, so that one run
// reports every problem; entries whose fields have the wrong type are skipped here (the schema reports them).

/** A problem found by a cross-reference check, located by its path in the document. */
export interface ReferenceProblem {
  path: ConfigPath;
  message: string;
}

type Entry = Readonly<Record<string, unknown>>;

/** Cross-reference checks of router.yaml. */
export function checkRouterReferences(value: unknown): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const backends = entriesAt(value, 'backends');
  const backendIds = checkUnique(backends, 'backends', 'id', 'backend id', problems);
  checkUnique(entriesAt(value, 'routes'), 'routes', 'id', 'route id', problems);
  checkUnique(entriesAt(value, 'routes'), 'routes', 'model', 'route model', problems);
  for (const [routeIndex, route] of entriesAt(value, 'routes')) {
    checkRouteTargets(route, routeIndex, backendIds, problems);
  }
  const admin = isEntry(value) ? value.admin : undefined;
  checkUnique(entriesAt(admin, 'tokens'), 'admin.tokens', 'id', 'admin token id', problems);
  checkUnique(entriesAt(admin, 'tokens'), 'admin.tokens', 'sha256', 'admin token sha256', problems);
  return problems;
}

/** Cross-reference checks of policies.yaml. */
export function checkPoliciesReferences(value: unknown): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const tenantIds = checkUnique(entriesAt(value, 'tenants'), 'tenants', 'id', 'tenant id', problems);
  const keys = entriesAt(value, 'apiKeys');
  checkUnique(keys, 'apiKeys', 'publicId', 'API key publicId', problems);
  checkUnique(keys, 'apiKeys', 'secretSha256', 'API key secretSha256', problems);
  for (const [index, key] of keys) {
    const tenant = key.tenant;
    if (typeof tenant === 'string' && !tenantIds.has(tenant)) {
      problems.push({ path: ['apiKeys', index, 'tenant'], message: `unknown tenant "${tenant}"` });
    }
  }
  return problems;
}

function checkRouteTargets(
  route: Entry,
  routeIndex: number,
  backendIds: ReadonlySet<string>,
  problems: ReferenceProblem[],
): void {
  const targets = entriesAt(route, 'targets');
  const seen = new Set<string>();
  let allWeightsKnown = true;
  let positiveWeights = 0;
  for (const [index, target] of targets) {
    const backend = target.backend;
    if (typeof backend === 'string') {
      if (!backendIds.has(backend)) {
        problems.push({
          path: ['routes', routeIndex, 'targets', index, 'backend'],
          message: `unknown backend "${backend}"`,
        });
      } else if (seen.has(backend)) {
        problems.push({
          path: ['routes', routeIndex, 'targets', index, 'backend'],
          message: `backend "${backend}" is already a target of this route`,
        });
      }
      seen.add(backend);
    }
    // Weight defaults to 1 when absent; a wrongly typed weight is the schema's to report.
    const weight = target.weight ?? 1;
    if (typeof weight !== 'number') allWeightsKnown = false;
    else if (weight > 0) positiveWeights += 1;
  }
  if (targets.length > 0 && allWeightsKnown && positiveWeights === 0) {
    problems.push({
      path: ['routes', routeIndex, 'targets'],
      message: 'all target weights are zero: the route could never be served',
    });
  }
}

/** Reports duplicates of `entry[field]` and returns the set of its string values. */
function checkUnique(
  entries: readonly (readonly [number, Entry])[],
  listPath: string,
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
        path: [...listPath.split('.'), index, field],
        message: `duplicate ${label}${shown} (first used at ${listPath}[${previous}])`,
      });
    }
  }
  return new Set(firstIndex.keys());
}

/** The object entries of the array at `value[key]`, with their indexes; non-objects are skipped. */
function entriesAt(value: unknown, key: string): (readonly [number, Entry])[] {
  if (!isEntry(value)) return [];
  const list = value[key];
  if (!Array.isArray(list)) return [];
  const entries: (readonly [number, Entry])[] = [];
  for (const [index, item] of (list as unknown[]).entries()) {
    if (isEntry(item)) entries.push([index, item]);
  }
  return entries;
}

function isEntry(value: unknown): value is Entry {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
