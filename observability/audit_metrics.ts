/**
 * Counters the audit actor updates at each group commit, read by /metrics:
 * entries appended, commits, and the distribution of batch sizes (how many
 * entries shared one commit).
 *
 * @module
 */
import { Histogram } from "./histogram.ts";

/** Upper bounds of the batch-size histogram (entries per commit). */
export const BATCH_BOUNDS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/** The audit actor's figures since the hub started. */
export class AuditMetrics {
  /** Entries committed. */
  appended = 0;
  /** Commits (one per batch). */
  commits = 0;
  /** Entries per commit. */
  readonly batchSize: Histogram = new Histogram(BATCH_BOUNDS);

  /** Records one committed batch of `entries`. */
  recordCommit(entries: number): void {
    this.appended += entries;
    this.commits++;
    this.batchSize.observe(entries);
  }
}
