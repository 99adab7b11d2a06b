// One file on purpose (~420 lines): the tests share one fake outbox, one fake transport and the manual
// clock (setup()), and all exercise the one Shipper class (delivery, retries, acks, linger, flush, lag).
import { describe, expect, it } from 'vitest';
import type { BacklogStats } from './backlog.js';
import { ManualClock } from './manual-clock.js';
import type { OutboxRecord } from './outbox-record.js';
import type { OutboxTransport } from './outbox-transport.js';
import { Shipper, type ShipperOptions, type ShipperOutbox } from './shipper.js';

/** An in-memory outbox with the shipper-facing surface of `Outbox`. */
class FakeOutbox implements ShipperOutbox {
  ackedSeq = 0;
  lastCommittedSeq = 0;
  failNextAck: Error | undefined;
  /** Every ack call's seq, in order (failed ones included). */
  readonly ackCalls: number[] = [];
  private records: OutboxRecord[] = [];
  private listeners = new Set<() => void>();

  constructor(private readonly clock: ManualClock) {}

  commit(count: number): void {
    for (let i = 0; i < count; i += 1) {
      this.lastCommittedSeq += 1;
      const seq = this.lastCommittedSeq;
      this.records.push({
        seq,
        key: `req-${seq}`,
        topic: 'usage',
        payload: Uint8Array.of(seq),
        appendedAtMs: this.clock.nowMs(),
      });
    }
    for (const listener of this.listeners) listener();
  }

  read(afterSeq: number, limits: { maxRecords: number }): Promise<OutboxRecord[]> {
    return Promise.resolve(
      this.records.filter((record) => record.seq > afterSeq).slice(0, limits.maxRecords),
    );
  }

  ack(throughSeq: number): Promise<void> {
    this.ackCalls.push(throughSeq);
    const error = this.failNextAck;
    this.failNextAck = undefined;
    if (error !== undefined) return Promise.reject(error);
    this.ackedSeq = Math.max(this.ackedSeq, throughSeq);
    return Promise.resolve();
  }

  backlog(): BacklogStats {
    const pending = this.records.filter((record) => record.seq > this.ackedSeq);
    return {
      records: pending.length,
      bytes: pending.length * 10,
      oldestAppendedAtMs: pending[0]?.appendedAtMs,
    };
  }

  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A transport that fails while `failures` > 0 and records every attempt's seqs. */
class FakeTransport implements OutboxTransport {
  attempts: number[][] = [];
  failures = 0;

  send(records: readonly OutboxRecord[]): Promise<void> {
    this.attempts.push(records.map((record) => record.seq));
    if (this.failures > 0) {
      this.failures -= 1;
      return Promise.reject(new Error('broker unavailable'));
    }
    return Promise.resolve();
  }
}

/** Lets the shipper's promise chains run to their next wait (no timers involved: macrotask turns only). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

function setup(options: Partial<ShipperOptions> = {}) {
  const clock = new ManualClock();
  const outbox = new FakeOutbox(clock);
  const transport = new FakeTransport();
  const shipper = new Shipper({
    outbox,
    transport,
    clock,
    random: () => 0,
    backoff: { initialDelayMs: 100, maxDelayMs: 500, multiplier: 2, jitter: 0.2 },
    ...options,
  });
  return { clock, outbox, transport, shipper };
}

describe('Shipper', () => {
  it('ships committed records in order in batches, acks them, and goes idle', async () => {
    const { outbox, transport, shipper } = setup({ maxBatchRecords: 3 });
    outbox.commit(7);
    shipper.start();
    await settle();
    expect(transport.attempts).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(outbox.ackedSeq).toBe(7);
    expect(shipper.state()).toBe('idle');
    expect(shipper.lag()).toMatchObject({ pendingRecords: 0, shippedRecords: 7, consecutiveFailures: 0 });
    outbox.commit(2); // wakes the idle shipper
    await settle();
    expect(transport.attempts.at(-1)).toEqual([8, 9]);
    await shipper.close();
    expect(shipper.state()).toBe('stopped');
  });

  it('retries the same batch with capped exponential backoff', async () => {
    const { clock, outbox, transport, shipper } = setup();
    outbox.commit(2);
    transport.failures = 5;
    shipper.start();
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      await settle();
      expect(shipper.state()).toBe('backoff');
      expect(shipper.lag()).toMatchObject({
        consecutiveFailures: attempt,
        pendingRecords: 2,
        lastError: 'broker unavailable',
      });
      const [delay] = clock.pendingDelaysMs();
      delays.push(delay!);
      clock.advance(delay! - 1);
      await settle();
      expect(transport.attempts).toHaveLength(attempt); // not before its time
      clock.advance(1);
    }
    await settle();
    expect(delays).toEqual([100, 200, 400, 500, 500]);
    expect(transport.attempts).toEqual(Array.from({ length: 6 }, () => [1, 2]));
    expect(outbox.ackedSeq).toBe(2);
    expect(shipper.lag()).toMatchObject({ consecutiveFailures: 0, lastError: undefined });
    await shipper.close();
  });

  it('keeps backing off while new records are committed (commits do not cut a backoff short)', async () => {
    const { clock, outbox, transport, shipper } = setup();
    outbox.commit(1);
    transport.failures = 5;
    shipper.start();
    await settle();
    expect(shipper.state()).toBe('backoff');
    // Traffic goes on while the transport is down: every request commits a record.
    for (let commit = 0; commit < 3; commit += 1) {
      outbox.commit(1);
      await settle();
    }
    expect(transport.attempts).toHaveLength(1);
    expect(shipper.state()).toBe('backoff');
    clock.advance(100);
    await settle();
    expect(transport.attempts).toHaveLength(2);
    await shipper.close();
  });

  it('re-sends (never skips) a batch whose ack failed', async () => {
    const { clock, outbox, transport, shipper } = setup();
    outbox.commit(3);
    outbox.failNextAck = new Error('EIO writing cursor');
    shipper.start();
    await settle();
    clock.advance(100);
    await settle();
    expect(transport.attempts).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    expect(outbox.ackedSeq).toBe(3);
    await shipper.close();
  });

  it('reports the age of the oldest pending record', async () => {
    const { clock, outbox, transport, shipper } = setup();
    outbox.commit(1);
    clock.advance(1_500);
    outbox.commit(1);
    transport.failures = 1;
    shipper.start();
    await settle();
    expect(shipper.lag()).toMatchObject({ pendingRecords: 2, pendingBytes: 20, oldestPendingAgeMs: 1_500 });
    await shipper.close();
  });

  // kafkajs' idempotent producer retries an unreachable broker without limit: its send neither fails nor
  // resolves, so consecutiveFailures and lastError stay at zero. The send's age is what shows the outage.
  it('reports how long the send in flight has been waiting, 0 once it settles or when none is', async () => {
    let settleSend!: (error?: Error) => void;
    const hung: OutboxTransport = {
      send: () =>
        new Promise<void>((resolve, reject) => {
          settleSend = (error) => (error === undefined ? resolve() : reject(error));
        }),
    };
    const { clock, outbox, shipper } = setup({ transport: hung });
    expect(shipper.lag().sendInFlightMs).toBe(0);
    outbox.commit(1);
    shipper.start();
    await settle();
    expect(shipper.lag()).toMatchObject({ sendInFlightMs: 0, consecutiveFailures: 0 });
    clock.advance(45_000);
    expect(shipper.lag()).toMatchObject({ sendInFlightMs: 45_000, consecutiveFailures: 0 });
    settleSend(new Error('broker gone'));
    await settle();
    expect(shipper.state()).toBe('backoff');
    expect(shipper.lag()).toMatchObject({ sendInFlightMs: 0, consecutiveFailures: 1 });
    clock.advance(100); // the backoff: the same batch again, a new send whose age starts at 0
    await settle();
    clock.advance(7_000);
    expect(shipper.lag().sendInFlightMs).toBe(7_000);
    settleSend();
    await settle();
    expect(shipper.state()).toBe('idle');
    expect(shipper.lag()).toMatchObject({ sendInFlightMs: 0, pendingRecords: 0 });
    outbox.commit(1);
    await settle();
    clock.advance(3_000);
    await shipper.close({ abandonSend: true });
    expect(shipper.lag().sendInFlightMs).toBe(0); // abandoned: no longer this shipper's send
  });

  it('flush resolves true once everything committed is acked, cutting a backoff short', async () => {
    const { outbox, transport, shipper } = setup({ backoff: { initialDelayMs: 60_000 } });
    outbox.commit(4);
    transport.failures = 1;
    shipper.start();
    await settle();
    expect(shipper.state()).toBe('backoff');
    const flushed = shipper.flush(5_000);
    await settle();
    await expect(flushed).resolves.toBe(true);
    expect(outbox.ackedSeq).toBe(4);
    await expect(shipper.flush(5_000)).resolves.toBe(true); // nothing pending: at once
    await shipper.close();
  });

  it('flush resolves false after its timeout while the transport keeps failing', async () => {
    const { clock, outbox, transport, shipper } = setup();
    outbox.commit(1);
    transport.failures = 1_000;
    shipper.start();
    await settle();
    const flushed = shipper.flush(1_000);
    for (let i = 0; i < 20; i += 1) {
      clock.advance(100);
      await settle();
    }
    await expect(flushed).resolves.toBe(false);
    expect(outbox.ackedSeq).toBe(0);
    await shipper.close();
  });

  it('close resolves pending flushes with false and stops shipping', async () => {
    const { outbox, transport, shipper } = setup();
    outbox.commit(1);
    transport.failures = 1_000;
    shipper.start();
    await settle();
    const flushed = shipper.flush(60_000);
    await shipper.close();
    await expect(flushed).resolves.toBe(false);
    const attempts = transport.attempts.length;
    outbox.commit(1);
    await settle();
    expect(transport.attempts).toHaveLength(attempts);
  });

  it('close with abandonSend stops without waiting for a send that never settles, and ignores its outcome', async () => {
    for (const outcome of ['resolves', 'rejects'] as const) {
      for (const ackIntervalMs of [0, 100]) {
        let settleSend!: () => void;
        const hung: OutboxTransport = {
          send: () =>
            new Promise<void>((resolve, reject) => {
              settleSend = outcome === 'resolves' ? resolve : () => reject(new Error('broker gone'));
            }),
        };
        const { outbox, shipper } = setup({ ackIntervalMs, transport: hung });
        outbox.commit(1);
        shipper.start();
        await settle();
        expect(shipper.state()).toBe('sending');
        await shipper.close({ abandonSend: true }); // hung here without the option
        expect(shipper.state()).toBe('stopped');
        // The outbox may be closed by now: the send settling later acks nothing and throws nothing.
        settleSend();
        await settle();
        expect(outbox.ackCalls, `${outcome}, ackIntervalMs ${ackIntervalMs}`).toEqual([]);
        expect(shipper.lag().shippedRecords).toBe(0);
      }
    }
  });

  it('flush on a shipper that was never started resolves false unless nothing is pending', async () => {
    const { outbox, shipper } = setup();
    await expect(shipper.flush(10)).resolves.toBe(true);
    outbox.commit(1);
    await expect(shipper.flush(10)).resolves.toBe(false);
  });

  describe('with lazy acks (ackIntervalMs)', () => {
    it('moves on after each delivery and acks at most once per interval, also when idle', async () => {
      const { clock, outbox, transport, shipper } = setup({ ackIntervalMs: 100 });
      outbox.commit(3);
      shipper.start();
      await settle();
      expect(outbox.ackCalls).toEqual([3]); // the first ack is due at once
      clock.advance(10);
      outbox.commit(2);
      await settle();
      outbox.commit(1);
      await settle();
      expect(transport.attempts).toEqual([[1, 2, 3], [4, 5], [6]]);
      expect(outbox.ackCalls).toEqual([3]); // delivered, not acked yet
      expect(shipper.state()).toBe('idle');
      expect(clock.pendingDelaysMs()).toEqual([90]); // the idle shipper wakes up for the owed ack
      clock.advance(89);
      await settle();
      expect(outbox.ackCalls).toEqual([3]);
      clock.advance(1);
      await settle();
      expect(outbox.ackCalls).toEqual([3, 6]);
      expect(outbox.ackedSeq).toBe(6);
      expect(clock.pendingDelaysMs()).toEqual([]);
      expect(shipper.lag()).toMatchObject({ shippedRecords: 6, pendingRecords: 0 });
      await shipper.close();
    });

    it('retries a failed ack with backoff, without re-sending what was delivered', async () => {
      const { clock, outbox, transport, shipper } = setup({ ackIntervalMs: 100 });
      outbox.commit(2);
      outbox.failNextAck = new Error('EIO writing cursor');
      shipper.start();
      await settle();
      expect(shipper.state()).toBe('backoff');
      expect(shipper.lag().lastError).toBe('EIO writing cursor');
      clock.advance(100);
      await settle();
      expect(outbox.ackCalls).toEqual([2, 2]);
      expect(outbox.ackedSeq).toBe(2);
      expect(transport.attempts).toEqual([[1, 2]]);
      await shipper.close();
    });

    it('flush acks what was delivered at once; close acks the rest', async () => {
      const { clock, outbox, shipper } = setup({ ackIntervalMs: 60_000 });
      outbox.commit(1);
      shipper.start();
      await settle();
      outbox.commit(2);
      await settle();
      expect(outbox.ackedSeq).toBe(1);
      const flushed = shipper.flush(1000);
      await settle();
      await expect(flushed).resolves.toBe(true);
      expect(outbox.ackCalls).toEqual([1, 3]);
      clock.advance(1);
      outbox.commit(1);
      await settle();
      expect(outbox.ackedSeq).toBe(3);
      await shipper.close();
      expect(outbox.ackCalls).toEqual([1, 3, 4]);
      expect(clock.pendingDelaysMs()).toEqual([]);
    });
  });

  describe('with lingerMs', () => {
    it('sends a batch that is not full at most once per lingerMs, a full one at once', async () => {
      const { clock, outbox, transport, shipper } = setup({ lingerMs: 20, maxBatchRecords: 4 });
      outbox.commit(1);
      shipper.start();
      await settle();
      expect(transport.attempts).toEqual([[1]]); // nothing sent before: no wait
      outbox.commit(1);
      await settle();
      clock.advance(5);
      outbox.commit(1);
      await settle();
      expect(transport.attempts).toEqual([[1]]); // lingering for company
      expect(clock.pendingDelaysMs()).toEqual([15]);
      clock.advance(15);
      await settle();
      expect(transport.attempts).toEqual([[1], [2, 3]]);
      outbox.commit(4); // a full batch does not wait
      await settle();
      expect(transport.attempts).toEqual([[1], [2, 3], [4, 5, 6, 7]]);
      outbox.commit(1);
      await settle();
      expect(transport.attempts).toHaveLength(3); // lingering again
      outbox.commit(3); // fills the batch: the linger ends
      await settle();
      expect(transport.attempts).toEqual([[1], [2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
      await shipper.close();
    });

    it('flush and close end a linger at once', async () => {
      const { outbox, transport, shipper } = setup({ lingerMs: 60_000 });
      outbox.commit(1);
      shipper.start();
      await settle();
      outbox.commit(1);
      await settle();
      expect(transport.attempts).toEqual([[1]]);
      const flushed = shipper.flush(120_000);
      await settle();
      await expect(flushed).resolves.toBe(true);
      expect(transport.attempts).toEqual([[1], [2]]);
      outbox.commit(1);
      await settle();
      await shipper.close(); // does not wait out the linger
      expect(shipper.state()).toBe('stopped');
    });
  });
});
