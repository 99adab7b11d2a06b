import { create } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { DataPlaneIdentitySchema, PolicyApplyOutcome } from '@api-router/contracts';
import { describe, expect, it } from 'vitest';
import { DataPlaneRegistry } from './data-plane-registry.js';

const dpA = create(DataPlaneIdentitySchema, { id: 'dp-a', hostname: 'host-a', buildVersion: '1' });
const dpB = create(DataPlaneIdentitySchema, { id: 'dp-b', hostname: 'host-b' });

function setup(retentionMs = 60_000) {
  let nowMs = 10_000;
  const registry = new DataPlaneRegistry({ clock: { now: () => nowMs }, retentionMs });
  return { registry, advance: (ms: number) => (nowMs += ms) };
}

describe('DataPlaneRegistry', () => {
  it('tracks connected and disconnected data planes', () => {
    const { registry, advance } = setup();
    registry.connect(dpB, '127.0.0.1:4000', 0n);
    registry.connect(dpA, '127.0.0.1:4001', 0n);
    expect(registry.counts()).toEqual({ connected: 2, disconnected: 0 });
    advance(5_000);
    registry.disconnect(dpB);
    const [a, b] = registry.list();
    expect(a).toMatchObject({
      identity: { id: 'dp-a', hostname: 'host-a' },
      connected: true,
      peer: '127.0.0.1:4001',
    });
    expect(b).toMatchObject({ connected: false });
    expect(timestampMs(b!.lastSeenAt!)).toBe(15_000);
    expect(registry.counts()).toEqual({ connected: 1, disconnected: 1 });
  });

  it('stays connected while a reconnect overlaps the old stream', () => {
    const { registry } = setup();
    registry.connect(dpA, '127.0.0.1:4001', 0n);
    registry.connect(dpA, '127.0.0.1:4002', 0n);
    registry.disconnect(dpA);
    expect(registry.list()[0]).toMatchObject({ connected: true, peer: '127.0.0.1:4002' });
  });

  it('records applied and rejected versions with the reason', () => {
    const { registry, advance } = setup();
    registry.connect(dpA, '127.0.0.1:4001', 0n);
    registry.report(dpA, '127.0.0.1:5000', {
      version: 7n,
      outcome: PolicyApplyOutcome.APPLIED,
      reason: '',
      activeVersion: 7n,
    });
    advance(1_000);
    registry.report(dpA, '127.0.0.1:5000', {
      version: 8n,
      outcome: PolicyApplyOutcome.REJECTED,
      reason: 'backend mock-b: credential env:MISSING is not set',
      activeVersion: 7n,
    });
    const [status] = registry.list();
    expect(status).toMatchObject({
      appliedVersion: 7n,
      rejectedVersion: 8n,
      rejectReason: 'backend mock-b: credential env:MISSING is not set',
      peer: '127.0.0.1:4001',
    });
    expect(timestampMs(status!.rejectedAt!)).toBe(11_000);
  });

  it('registers a data plane that reports before it streams, and forgets disconnected ones after retention', () => {
    const { registry, advance } = setup(60_000);
    registry.report(dpB, '127.0.0.1:5000', {
      version: 3n,
      outcome: PolicyApplyOutcome.APPLIED,
      reason: '',
      activeVersion: 0n,
    });
    expect(registry.list()[0]).toMatchObject({
      connected: false,
      appliedVersion: 3n,
      peer: '127.0.0.1:5000',
    });
    advance(60_001);
    expect(registry.list()).toEqual([]);
  });
});
