import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_API_KEY, DEMO_MODEL } from './support/inference-config.js';
import { postJson, runConcurrently } from './support/inference-requests.js';
import { startInferenceStack, type InferenceStack } from './support/inference-stack.js';
import { addLimitedKeys, newKey } from './support/limits-planes.js';
import {
  adminCall,
  eventually,
  readiness,
  startControlPlaneProcess,
  startDataPlaneProcess,
  type RunningControlPlane,
  type RunningDataPlane,
} from './support/planes.js';

// Issue 4's durability acceptance with real processes: denials (401, 402, 404) and served requests answered
// by a data plane whose control plane is down (nothing can ship) survive `kill -9` of the data plane right
// after the last response. Restarted on the same outbox, it ships them; the control plane's audit lookup
// then returns exactly one denial event per denied request and the usage record of each served one
// (shipping is at least once, the audit store dedupes on event id / request id).

const RUN = randomBytes(3).toString('hex');
const messages = [{ role: 'user', content: 'Keep a record of this.' }];
// A key whose whole budget (1 micro-dollar, never reset) cannot cover any request: every request is 402.
const BROKE = newKey('broke');
const BROKE_LIMITS = `{ budgets: [{ id: total, limitUsd: '0.000001', period: total }] }`;
const UNKNOWN_KEY = `rk_nobody${RUN}`;

type Expected = 'auth_denied' | 'budget_denied' | 'model_denied' | 'served';
const PLAN: Expected[] = [
  ...Array<Expected>(10).fill('auth_denied'),
  ...Array<Expected>(8).fill('budget_denied'),
  ...Array<Expected>(6).fill('model_denied'),
  ...Array<Expected>(6).fill('served'),
];
const STATUS: Record<Expected, number> = {
  auth_denied: 401,
  budget_denied: 402,
  model_denied: 404,
  served: 200,
};
const API_KEY: Record<Expected, string> = {
  auth_denied: `${UNKNOWN_KEY}.wrong`,
  budget_denied: BROKE.key,
  model_denied: DEMO_API_KEY,
  served: DEMO_API_KEY,
};
const DENIAL: Record<Exclude<Expected, 'served'>, Record<string, string>> = {
  auth_denied: { kind: 'AUDIT_EVENT_KIND_AUTH_DENIED', reasonCode: 'unknown_key', keyPublicId: UNKNOWN_KEY },
  budget_denied: {
    kind: 'AUDIT_EVENT_KIND_BUDGET_DENIED',
    reasonCode: `key:${BROKE.publicId}:total`,
    keyPublicId: BROKE.publicId,
  },
  model_denied: {
    kind: 'AUDIT_EVENT_KIND_MODEL_DENIED',
    reasonCode: 'model_not_found',
    keyPublicId: 'rk_demo01',
  },
};

let stack: InferenceStack | undefined;
const extra: { stop(): Promise<unknown> }[] = [];
afterAll(async () => {
  for (const running of extra.reverse()) await running.stop();
  await stack?.stop();
});

interface RequestAudit {
  events?: { kind: string; reasonCode?: string; requestId: string; keyPublicId?: string }[];
  usage?: { statusCode: number; requestId: string; backendId: string };
}

async function send(url: string, expected: Expected, index: number): Promise<{ id: string; status: number }> {
  const id = `durable-${RUN}-${index}`;
  const response = await postJson(
    `${url}/v1/chat/completions`,
    { model: expected === 'model_denied' ? 'no-such-model' : DEMO_MODEL, messages, max_tokens: 4 },
    { authorization: `Bearer ${API_KEY[expected]}`, 'x-request-id': id },
  );
  await response.arrayBuffer();
  return { id, status: response.status };
}

describe('durable audit across kill -9 of the data plane', () => {
  it('ships every denial and usage record answered before the kill, each exactly once', async () => {
    stack = await startInferenceStack({
      mocks: { 'mock-a': {}, 'mock-b': 'mock-a' },
      prepare: (workspace) =>
        addLimitedKeys(workspace.policiesConfig, `durable${RUN}`, [{ key: BROKE, limits: BROKE_LIMITS }]),
    });
    const { workspace } = stack;
    // The control plane goes away: from now on records can only wait in the data plane's outbox.
    await stack.controlPlane.process.stop({ signal: 'SIGKILL' });

    const results = await runConcurrently(PLAN.length, 6, (index) =>
      send(stack!.dataPlane.url, PLAN[index]!, index),
    );
    const killed = await stack.dataPlane.process.stop({ signal: 'SIGKILL' });
    expect(killed.signal).toBe('SIGKILL');
    expect(results.map((result) => result.status)).toEqual(PLAN.map((expected) => STATUS[expected]));

    const controlPlane: RunningControlPlane = await startControlPlaneProcess(workspace);
    extra.push(controlPlane.process);
    const dataPlane: RunningDataPlane = await startDataPlaneProcess(workspace);
    extra.push(dataPlane.process);

    const lookup = async (id: string): Promise<RequestAudit | undefined> => {
      const { status, body } = await adminCall<RequestAudit>(controlPlane.httpUrl, 'GetRequestAudit', {
        requestId: id,
      });
      return status === 200 ? body : undefined;
    };
    const audits = await eventually(
      async () => {
        const found = await Promise.all(results.map((result) => lookup(result.id)));
        return found.every((audit) => audit !== undefined) ? found : undefined;
      },
      30_000,
      'every record shipped after the restart',
    );
    // Wait until the restarted data plane has nothing left to ship, then look again: still exactly one.
    await eventually(async () => {
      const detail = (await readiness(dataPlane.url)).detail as unknown as { outbox?: { pending: number } };
      return detail.outbox?.pending === 0 ? true : undefined;
    });
    const again = await Promise.all(results.map((result) => lookup(result.id)));

    for (const [index, expected] of PLAN.entries()) {
      const { id } = results[index]!;
      for (const audit of [audits[index], again[index]]) {
        const events = audit?.events ?? [];
        if (expected === 'served') {
          expect(events, id).toEqual([]);
          expect(audit?.usage, id).toMatchObject({
            requestId: id,
            statusCode: 200,
            backendId: expect.stringMatching(/^mock-[ab]$/) as unknown,
          });
        } else {
          expect(events, id).toHaveLength(1);
          expect(events[0], id).toMatchObject(DENIAL[expected]);
          expect(audit?.usage, id).toBeUndefined();
        }
      }
    }
  });
});
