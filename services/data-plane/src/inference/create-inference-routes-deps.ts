import type { Tracer } from '@opentelemetry/api';
import type { NonceStore } from '@api-router/auth';
import type { Backend } from '@api-router/contracts';
import type { Registry } from 'prom-client';
import { createRequestAuthenticator } from '../auth/request-authenticator.js';
import type { Clock } from '../clock.js';
import type { CredentialResolver } from '../credentials/credential-resolver.js';
import { createInferenceMetrics } from '../metrics/inference-metrics.js';
import type { ActivePolicy } from '../policy/policy-holder.js';
import { createCandidateSelector } from '../routing/candidate-selector.js';
import type { AdmissionController } from '../admission/admission-controller.js';
import type { AuditRecorder } from '../records/audit-recorder.js';
import type { UsageRecorder } from '../records/usage-recorder.js';
import type { Timers } from '../timers.js';
import { openAICompatibleAdapter } from '../upstream/adapters/openai-compatible-adapter.js';
import type { ProviderAdapter } from '../upstream/adapters/provider-adapter.js';
import { createUpstreamClient } from '../upstream/upstream-client.js';
import type { UpstreamPools } from '../upstream/upstream-pools.js';
import { pooledRandomBytes, type RandomBytes } from '../random-pool.js';
import type { InferenceRoutesDeps } from './register-inference-routes.js';
import { RunningRequests } from './running-requests.js';

export interface InferenceComponents {
  clock: Clock;
  timers: Timers;
  random: () => number;
  /** Monotonic milliseconds; performance.now in production. */
  now: () => number;
  /** Undefined when tracing is off. */
  tracer: Tracer | undefined;
  /** CSPRNG bytes for made-up trace ids; default a pooled crypto source. */
  randomBytes?: RandomBytes;
  metricsRegistry: Registry;
  pools: UpstreamPools;
  nonceStore: NonceStore;
  credentials: CredentialResolver;
  activePolicy: () => ActivePolicy | undefined;
  signatureWindowSeconds: number;
  maxUpstreamResponseBytes: number;
  /** Durable audit and usage recorders (the outbox). */
  records: { audit: AuditRecorder; usage: UsageRecorder };
  /** Limits, budgets and the fair queue. */
  admission: AdmissionController;
}

/**
 * Wires the inference API's dependencies from the composition root's components. Keeps the upstream
 * pools in step with the policy: each request's policy read reconciles them (an identity check when the
 * policy did not change), so pools of removed backends are retired after the first request on a new policy.
 */
export function createInferenceRoutesDeps(components: InferenceComponents): InferenceRoutesDeps {
  const { pools } = components;
  const metrics = createInferenceMetrics(components.metricsRegistry);
  const adapterFor = (_backend: Backend): ProviderAdapter => openAICompatibleAdapter; // the only provider so far
  return {
    activePolicy: () => {
      const active = components.activePolicy();
      if (active !== undefined) pools.sync(active.policy.backendsById);
      return active;
    },
    credentialsFor: (policy) => components.credentials.credentialsFor(policy),
    authenticate: createRequestAuthenticator({
      clock: components.clock,
      nonceStore: components.nonceStore,
      signatureWindowSeconds: components.signatureWindowSeconds,
    }),
    callUpstream: {
      upstream: createUpstreamClient(pools),
      selectCandidate: createCandidateSelector(components.random),
      tracer: components.tracer,
      randomBytes: components.randomBytes ?? pooledRandomBytes(),
      metrics,
      now: components.now,
    },
    adapterFor,
    timers: components.timers,
    now: components.now,
    metrics,
    maxUpstreamResponseBytes: components.maxUpstreamResponseBytes,
    records: components.records,
    admission: components.admission,
    clock: components.clock,
    runningRequests: new RunningRequests(),
  };
}
