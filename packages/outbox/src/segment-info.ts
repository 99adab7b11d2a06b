/** One segment file, as the log and its readers see it. Mutable: the log grows `sizeBytes` as batches commit. */
export interface SegmentInfo {
  /** Lower bound of the seqs in the file (from its name). */
  firstSeq: number;
  /** File name inside the outbox directory. */
  name: string;
  /** Committed bytes: everything before this offset is durable and decodes (or was reported as corrupt). */
  sizeBytes: number;
}
