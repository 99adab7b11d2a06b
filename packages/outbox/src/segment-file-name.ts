const PATTERN = /^segment-(\d{1,20})\.log$/;

/**
 * `segment-<firstSeq>.log`, zero-padded to 20 digits so a plain `ls` lists segments in order. `firstSeq` is a
 * lower bound: every record in the segment has a seq at or above it and below the next segment's.
 */
export function segmentFileName(firstSeq: number): string {
  return `segment-${String(firstSeq).padStart(20, '0')}.log`;
}

/** The first seq a segment file name carries, or undefined for any other file. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = PATTERN.exec(name);
  if (match === null) return undefined;
  const firstSeq = Number(match[1]);
  return Number.isSafeInteger(firstSeq) ? firstSeq : undefined;
}
