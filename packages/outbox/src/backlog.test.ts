import { describe, expect, it } from 'vitest';
import { Backlog } from './backlog.js';

describe('Backlog', () => {
  it('counts records and bytes, and drops acked ones', () => {
    const backlog = new Backlog();
    for (let seq = 1; seq <= 10; seq += 1) backlog.add(seq, 100, 1000 + seq);
    expect(backlog.stats()).toEqual({ records: 10, bytes: 1000, oldestAppendedAtMs: 1001 });
    backlog.ackThrough(4);
    expect(backlog.stats()).toEqual({ records: 6, bytes: 600, oldestAppendedAtMs: 1005 });
    backlog.ackThrough(10);
    expect(backlog.stats()).toEqual({ records: 0, bytes: 0, oldestAppendedAtMs: undefined });
  });

  it('handles gaps in seqs (failed writes) and acks between runs', () => {
    const backlog = new Backlog();
    backlog.add(1, 10, 1);
    backlog.add(5, 10, 5);
    backlog.add(6, 10, 6);
    backlog.ackThrough(3);
    expect(backlog.stats()).toEqual({ records: 2, bytes: 20, oldestAppendedAtMs: 5 });
  });

  it('stays exact in counts across many runs', () => {
    const backlog = new Backlog();
    for (let seq = 1; seq <= 5000; seq += 1) backlog.add(seq, 1, seq);
    backlog.ackThrough(2500);
    expect(backlog.stats()).toEqual({ records: 2500, bytes: 2500, oldestAppendedAtMs: 2501 });
  });
});
