import type { FastifyRequest } from 'fastify';
import { mayUseModel } from '../auth/principal.js';
import { inferenceState, requestPolicy } from '../inference/inference-session.js';

/** Body of GET /v1/models, OpenAI's list shape. */
export interface ModelList {
  object: 'list';
  data: { id: string; object: 'model'; created: number; owned_by: string }[];
}

/**
 * GET /v1/models: the models the calling key may use (its allowed models that a route serves), sorted;
 * `created` is the active policy's creation time in Unix seconds.
 */
export function listModels(request: FastifyRequest): ModelList {
  const principal = inferenceState(request).principal;
  const { policy } = requestPolicy(request);
  const created = Math.floor(policy.createdAt.getTime() / 1000);
  const ids = [...policy.routesByModel.keys()]
    .filter((model) => principal !== undefined && mayUseModel(principal, model))
    .sort();
  return {
    object: 'list',
    data: ids.map((id) => ({ id, object: 'model', created, owned_by: 'api-router' })),
  };
}
