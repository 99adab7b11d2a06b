import { checkUnique, entriesAt, isEntry, type Entry, type ReferenceProblem } from './config-entries.js';
import { checkBudgetIds, checkPrices, checkReservationTtl, type RouteTargets } from './limit-references.js';

// Checks that span several entries of a document: unique ids, references that resolve, weights that can
// route traffic. They run on the raw YAML value, even when the schema rejected parts of it, so that one run
// reports every problem; entries whose fields have the wrong type are skipped here (the schema reports them).

export type { ReferenceProblem } from './config-entries.js';

/** Cross-reference checks of router.yaml. */
export function checkRouterReferences(value: unknown): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const backends = entriesAt(value, 'backends');
  const backendIds = checkUnique(backends, ['backends'], 'id', 'backend id', problems);
  checkUnique(entriesAt(value, 'routes'), ['routes'], 'id', 'route id', problems);
  checkUnique(entriesAt(value, 'routes'), ['routes'], 'model', 'route model', problems);
  for (const [routeIndex, route] of entriesAt(value, 'routes')) {
    checkRouteTargets(route, routeIndex, backendIds, problems);
  }
  // The route serving each model, with its targets' backends (the first route of a duplicated model: the
  // duplicate is reported above).
  const routeModels = new Map<string, RouteTargets>();
  for (const [, route] of entriesAt(value, 'routes')) {
    if (typeof route.model !== 'string' || routeModels.has(route.model)) continue;
    const backends = new Set<string>();
    for (const [, target] of entriesAt(route, 'targets')) {
      if (typeof target.backend === 'string') backends.add(target.backend);
    }
    routeModels.set(route.model, { id: route.id, backends });
  }
  checkPrices(entriesAt(value, 'prices'), backendIds, routeModels, problems);
  checkReservationTtl(value, problems);
  const admin = isEntry(value) ? value.admin : undefined;
  checkUnique(entriesAt(admin, 'tokens'), ['admin', 'tokens'], 'id', 'admin token id', problems);
  checkUnique(entriesAt(admin, 'tokens'), ['admin', 'tokens'], 'sha256', 'admin token sha256', problems);
  return problems;
}

/** Cross-reference checks of policies.yaml. */
export function checkPoliciesReferences(value: unknown): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const tenantIds = checkUnique(entriesAt(value, 'tenants'), ['tenants'], 'id', 'tenant id', problems);
  const keys = entriesAt(value, 'apiKeys');
  checkUnique(keys, ['apiKeys'], 'publicId', 'API key publicId', problems);
  checkUnique(keys, ['apiKeys'], 'secretSha256', 'API key secretSha256', problems);
  for (const [index, key] of keys) {
    const tenant = key.tenant;
    if (typeof tenant === 'string' && !tenantIds.has(tenant)) {
      problems.push({ path: ['apiKeys', index, 'tenant'], message: `unknown tenant "${tenant}"` });
    }
  }
  for (const [index, tenant] of entriesAt(value, 'tenants')) {
    checkBudgetIds(tenant, ['tenants', index], problems);
  }
  for (const [index, key] of keys) checkBudgetIds(key, ['apiKeys', index], problems);
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
