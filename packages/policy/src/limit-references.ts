import type { ConfigPath } from './config-document.js';
import { checkUnique, entriesAt, isEntry, type Entry, type ReferenceProblem } from './config-entries.js';
import { DEFAULT_RESERVATION_TTL_MS, RESERVATION_SETTLEMENT_MARGIN_MS } from './limit-bounds.js';

// Cross-entry checks of the limit policy, on raw YAML values like the rest of config-references.ts: budget
// ids unique per owner, prices unique per (model, backend) and naming what exists, a reservation expiry that
// outlives every request deadline and the settlement after it.

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Budget ids of one owner (`ownerPath` = tenants[i] or apiKeys[i]) are unique. */
export function checkBudgetIds(owner: Entry, ownerPath: ConfigPath, problems: ReferenceProblem[]): void {
  const limits = owner.limits;
  checkUnique(entriesAt(limits, 'budgets'), [...ownerPath, 'limits', 'budgets'], 'id', 'budget id', problems);
}

/** The route serving a model: its id (raw YAML value) and its targets' backend ids. */
export interface RouteTargets {
  readonly id: unknown;
  readonly backends: ReadonlySet<string>;
}

/**
 * Prices are unique per (model, backend), name a route's model and, when given, an existing backend that is
 * a target of that route (a price of another backend would never apply: the model's requests never go
 * there).
 */
export function checkPrices(
  prices: readonly (readonly [number, Entry])[],
  backendIds: ReadonlySet<string>,
  routeModels: ReadonlyMap<string, RouteTargets>,
  problems: ReferenceProblem[],
): void {
  const firstIndex = new Map<string, number>();
  for (const [index, price] of prices) {
    const { model, backend } = price;
    const route = typeof model === 'string' ? routeModels.get(model) : undefined;
    if (typeof model === 'string' && route === undefined) {
      problems.push({
        path: ['prices', index, 'model'],
        message: `unknown model "${model}" (no route serves it)`,
      });
    }
    if (typeof backend === 'string' && !backendIds.has(backend)) {
      problems.push({ path: ['prices', index, 'backend'], message: `unknown backend "${backend}"` });
    } else if (typeof backend === 'string' && route !== undefined && !route.backends.has(backend)) {
      const routeId = typeof route.id === 'string' ? ` "${route.id}"` : '';
      problems.push({
        path: ['prices', index, 'backend'],
        message:
          `backend "${backend}" is not a target of route${routeId} (model "${String(model)}"): this price ` +
          'would never apply',
      });
    }
    if (typeof model !== 'string' || (backend !== undefined && typeof backend !== 'string')) continue;
    const key = `${model}\u0000${backend ?? ''}`;
    const previous = firstIndex.get(key);
    if (previous === undefined) {
      firstIndex.set(key, index);
      continue;
    }
    const what = backend === undefined ? `model "${model}"` : `model "${model}" on backend "${backend}"`;
    problems.push({
      path: ['prices', index],
      message: `duplicate price for ${what} (first given at prices[${previous}])`,
    });
  }
}

/**
 * settings.reservationTtlMs must exceed the longest request deadline by {@link RESERVATION_SETTLEMENT_MARGIN_MS}:
 * a reservation that expired while its request was still running, or before its settlement (which runs
 * after the request ended), frees room that another request takes while the settlement still charges: the
 * budget overshoots.
 */
export function checkReservationTtl(value: unknown, problems: ReferenceProblem[]): void {
  if (!isEntry(value)) return;
  const settings = isEntry(value.settings) ? value.settings : {};
  const ttl = settings.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
  const defaultTimeout = settings.defaultRequestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  if (typeof ttl !== 'number' || typeof defaultTimeout !== 'number') return;
  const deadlines: [ConfigPath, unknown][] = [[['settings', 'defaultRequestTimeoutMs'], defaultTimeout]];
  for (const [index, route] of entriesAt(value, 'routes')) {
    deadlines.push([['routes', index, 'requestTimeoutMs'], route.requestTimeoutMs]);
  }
  const longest = deadlines.reduce<[ConfigPath, number] | undefined>((found, [path, deadline]) => {
    if (typeof deadline !== 'number' || (found !== undefined && found[1] >= deadline)) return found;
    return [path, deadline];
  }, undefined);
  if (longest === undefined) return;
  const needed = longest[1] + RESERVATION_SETTLEMENT_MARGIN_MS;
  if (ttl < needed) {
    const where = longest[0].length === 2 ? 'settings.defaultRequestTimeoutMs' : `a route's requestTimeoutMs`;
    problems.push({
      path: ['settings', 'reservationTtlMs'],
      message:
        `must be at least ${needed} ms: the longest request deadline (${longest[1]} ms, ${where}) plus a ` +
        `${RESERVATION_SETTLEMENT_MARGIN_MS} ms margin for the settlement after it (store round trips and ` +
        `retries, clock skew): a reservation must outlive its request and its settlement`,
    });
  }
}
