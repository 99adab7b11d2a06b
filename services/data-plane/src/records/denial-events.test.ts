import { toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { AuditEventSchema } from '@api-router/contracts';
import { buildAuditEvent } from './audit-recorder.js';
import { modelDeniedEvent } from './denial-events.js';

const request = { requestId: 'req-1', method: 'POST', route: '/v1/inference' };
const stamp = {
  eventId: '0193a5f2-7c1e-7d3a-9b4f-0123456789ab',
  atMs: 1_750_000_000_000,
  dataPlaneId: 'dp-1',
};

describe('modelDeniedEvent', () => {
  it('keeps the model name the client sent when it is of a sane length', () => {
    const event = modelDeniedEvent(request, {
      code: 'model_not_found',
      model: 'gpt-4o-mini',
      keyPublicId: 'rk_demo01',
      tenantId: 'acme',
    });
    expect(event.attributes?.model).toBe('gpt-4o-mini');
    expect(event.message).toBe('404 model_not_found: model "gpt-4o-mini"');
  });

  it('bounds a client-chosen model name, so that one 404 cannot make an audit event no transport can carry', () => {
    // /v1/inference takes any non-empty model name, up to the body limit (1 MiB by default). Written twice
    // (message and attribute), it made a ~2 MB event: over Kafka's default 1 MB message limit, a batch the
    // broker refuses on every retry, holding back every later record of the outbox.
    const model = `${'m'.repeat(1_000_000)}😀`;
    const event = modelDeniedEvent(request, {
      code: 'model_not_found',
      model,
      keyPublicId: 'rk_demo01',
      tenantId: 'acme',
    });
    const bytes = toBinary(AuditEventSchema, buildAuditEvent(event, stamp));
    expect(bytes.length).toBeLessThan(2048);
    expect(event.attributes?.model?.startsWith('mmmm')).toBe(true);
    expect(event.attributes?.model?.endsWith('…')).toBe(true);
    expect(event.message.startsWith('404 model_not_found: model "mmmm')).toBe(true);
  });

  it('does not cut a surrogate pair in two', () => {
    const model = `${'m'.repeat(199)}${'😀'.repeat(10)}`;
    const event = modelDeniedEvent(request, {
      code: 'model_not_found',
      model,
      keyPublicId: 'rk_demo01',
      tenantId: 'acme',
    });
    expect(event.attributes?.model).toBe(`${'m'.repeat(199)}…`);
  });
});
