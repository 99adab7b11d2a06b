// In-memory recorders for tests that build the inference deps without an outbox.
import type { AuditEventInit, AuditRecorder } from '../records/audit-recorder.js';
import type { UsageRecorder, UsageRecordInit } from '../records/usage-recorder.js';

export interface MemoryRecords {
  readonly audit: AuditRecorder;
  readonly usage: UsageRecorder;
  readonly auditEvents: AuditEventInit[];
  readonly usageRecords: UsageRecordInit[];
}

export function createMemoryRecords(): MemoryRecords {
  const auditEvents: AuditEventInit[] = [];
  const usageRecords: UsageRecordInit[] = [];
  return {
    auditEvents,
    usageRecords,
    audit: {
      record: (event) => {
        auditEvents.push(event);
        return Promise.resolve();
      },
    },
    usage: {
      record: (usage) => {
        usageRecords.push(usage);
        return Promise.resolve();
      },
    },
  };
}
