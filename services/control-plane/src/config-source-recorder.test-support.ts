import type { ConfigDocuments } from '@api-router/policy';
import type { ConfigSourceError, ConfigSourceListener } from './config-source.js';

/** What a config source delivered: documents with their revision, or an error. */
export type Outcome = { documents: ConfigDocuments; revision: string } | { error: ConfigSourceError };

/** Collects outcomes; `next()` waits for the next one (events, not sleeps). */
export function recorder(): ConfigSourceListener & { next(): Promise<Outcome> } {
  const outcomes: Outcome[] = [];
  let wake: (() => void) | undefined;
  const push = (outcome: Outcome): void => {
    outcomes.push(outcome);
    wake?.();
  };
  return {
    onDocuments: (documents, revision) => push({ documents, revision }),
    onError: (error) => push({ error }),
    async next() {
      while (outcomes.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return outcomes.shift()!;
    },
  };
}
