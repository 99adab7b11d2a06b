import { describe, expect, it } from 'vitest';
import { GroupCommit } from './group-commit.js';
import { ManualClock } from './manual-clock.js';

/** A commit function the test completes by hand, recording each batch. */
function controllableCommit() {
  const batches: string[][] = [];
  const finishers: ((error?: Error) => void)[] = [];
  const commit = (entries: string[]): Promise<void> => {
    batches.push(entries);
    return new Promise<void>((resolve, reject) =>
      finishers.push((error) => (error ? reject(error) : resolve())),
    );
  };
  const finish = async (error?: Error): Promise<void> => {
    finishers.shift()!(error);
    await flushMicrotasks();
  };
  return { batches, commit, finish };
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}

describe('GroupCommit', () => {
  it('commits entries submitted within the delay as one batch', async () => {
    const clock = new ManualClock();
    const { batches, commit, finish } = controllableCommit();
    const group = new GroupCommit<string>({ clock, maxDelayMs: 2, maxBatchBytes: 1000, commit });
    const done = ['a', 'b', 'c'].map((entry) => group.submit(entry, 10));
    clock.advance(1);
    expect(batches).toEqual([]);
    clock.advance(1);
    expect(batches).toEqual([['a', 'b', 'c']]);
    await finish();
    await expect(Promise.all(done)).resolves.toEqual([undefined, undefined, undefined]);
  });

  it('queues entries that arrive during a commit and sends them together right after it', async () => {
    const clock = new ManualClock();
    const { batches, commit, finish } = controllableCommit();
    const group = new GroupCommit<string>({ clock, maxDelayMs: 2, maxBatchBytes: 1000, commit });
    const first = group.submit('a', 10);
    clock.advance(2);
    const later = ['b', 'c', 'd'].map((entry) => group.submit(entry, 10));
    expect(batches).toHaveLength(1);
    await finish();
    await first;
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
    expect(clock.pendingDelaysMs()).toEqual([]); // no extra delay for entries that already waited
    await finish();
    await Promise.all(later);
  });

  it('with maxCollectMs, commits at the first submit that finds the batch that old, not at its timer', async () => {
    const clock = new ManualClock();
    const { batches, commit, finish } = controllableCommit();
    const group = new GroupCommit<string>({
      clock,
      maxDelayMs: 50,
      maxBatchBytes: 1000,
      maxCollectMs: 2,
      commit,
    });
    const early = [group.submit('a', 10)];
    clock.advance(1);
    early.push(group.submit('b', 10));
    expect(batches).toEqual([]); // 1 ms old: keeps collecting
    clock.advance(1);
    expect(batches).toEqual([]); // nothing submitted: only a submit (or the timer) cuts it
    early.push(group.submit('c', 10));
    expect(batches).toEqual([['a', 'b', 'c']]);
    expect(clock.pendingDelaysMs()).toEqual([]); // the 50 ms timer is cancelled
    const later = group.submit('d', 10); // during the commit: waits for it, as always
    await finish();
    await Promise.all(early);
    expect(batches).toEqual([['a', 'b', 'c'], ['d']]);
    await finish();
    await later;
    // A new batch starts its own clock.
    const next = group.submit('e', 10);
    clock.advance(1);
    const after = group.submit('f', 10);
    expect(batches).toHaveLength(2);
    clock.advance(49);
    expect(batches.at(-1)).toEqual(['e', 'f']);
    await finish();
    await Promise.all([next, after]);
  });

  it('without maxCollectMs, an old batch still waits for its timer', () => {
    const clock = new ManualClock();
    const { batches, commit } = controllableCommit();
    const group = new GroupCommit<string>({ clock, maxDelayMs: 50, maxBatchBytes: 1000, commit });
    void group.submit('a', 10);
    clock.advance(40);
    void group.submit('b', 10);
    expect(batches).toEqual([]);
    clock.advance(10);
    expect(batches).toEqual([['a', 'b']]);
  });

  it('goes at once when a batch fills, and cuts batches at maxBatchBytes', async () => {
    const clock = new ManualClock();
    const { batches, commit, finish } = controllableCommit();
    const group = new GroupCommit<string>({ clock, maxDelayMs: 50, maxBatchBytes: 25, commit });
    const first = [group.submit('a', 10), group.submit('b', 10)];
    expect(batches).toEqual([]);
    const third = group.submit('c', 10);
    expect(batches).toEqual([['a', 'b']]); // 30 bytes pending ≥ 25: no waiting, and the batch stops at 20
    await finish();
    await Promise.all(first);
    expect(batches).toEqual([['a', 'b'], ['c']]);
    await finish();
    await third;
  });

  it('rejects every entry of a failed batch and carries on with the next', async () => {
    const clock = new ManualClock();
    const { batches, commit, finish } = controllableCommit();
    const group = new GroupCommit<string>({ clock, maxDelayMs: 2, maxBatchBytes: 1000, commit });
    const failing = [group.submit('a', 1), group.submit('b', 1)];
    clock.advance(2);
    const next = group.submit('c', 1);
    await finish(new Error('disk on fire'));
    for (const entry of failing) await expect(entry).rejects.toThrow('disk on fire');
    expect(batches).toEqual([['a', 'b'], ['c']]);
    await finish();
    await expect(next).resolves.toBeUndefined();
  });

  it('drain commits without waiting for the delay', async () => {
    const clock = new ManualClock();
    const { batches, commit, finish } = controllableCommit();
    const group = new GroupCommit<string>({ clock, maxDelayMs: 1000, maxBatchBytes: 1000, commit });
    const entry = group.submit('a', 1);
    const drained = group.drain();
    expect(batches).toEqual([['a']]);
    await finish();
    await Promise.all([entry, drained]);
    expect(group.pendingCount).toBe(0);
  });
});
