import type { FastifyRequest } from 'fastify';
import { RouterError } from '@api-router/errors';
import { mayUseModel } from '../auth/principal.js';
import { inferenceState, requestPolicy } from '../inference/inference-session.js';

/** One model, OpenAI's shape. */
export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/** Body of GET /v1/models, OpenAI's list shape. */
export interface ModelList {
  object: 'list';
  data: ModelObject[];
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
  return { object: 'list', data: ids.map((id) => modelObject(id, created)) };
}

/**
 * GET /v1/models/{model} (the OpenAI SDKs' `models.retrieve`; a model id may hold "/"): the model when the
 * calling key may use it and a route serves it, else 404 model_not_found whichever part failed, as OpenAI
 * answers, so a restricted key cannot probe which models exist.
 */
export function retrieveModel(request: FastifyRequest<{ Params: { '*': string } }>): ModelObject {
  const model = request.params['*'];
  const principal = inferenceState(request).principal;
  const { policy } = requestPolicy(request);
  if (principal === undefined || !mayUseModel(principal, model) || !policy.routesByModel.has(model)) {
    throw new RouterError('model_not_found', {
      message: `The model "${model.slice(0, 200)}" does not exist or this key may not use it.`,
    });
  }
  return modelObject(model, Math.floor(policy.createdAt.getTime() / 1000));
}

function modelObject(id: string, created: number): ModelObject {
  return { id, object: 'model', created, owned_by: 'api-router' };
}
