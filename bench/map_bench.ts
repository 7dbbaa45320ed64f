/**
 * Bounded maps under a flood of new keys (spoofed UDP source addresses):
 * the cost of one new key once the map is full, for the rate limiter
 * (per address) and the replay cache (per nonce). The baseline is the
 * floor: a new key set into a plain `Map` that is never bounded (a bounded
 * one built on `Map` by deleting its oldest key gets slower as deleted
 * entries pile up at its front). Runs in this process; no hub needed.
 *
 * @module
 */
import { RateLimiter } from "../protocols/rate_limit.ts";
import { ReplayCache } from "../protocols/udp/replay_cache.ts";
import { type BenchRow, row } from "./report.ts";

/** New keys measured per figure (after the map is full). */
export const FLOOD_KEYS = 100_000;
/** The rate limiter's default bound. */
const LIMITER_KEYS = 65_536;

/** Nanoseconds per call of `step(i)` for `count` calls. */
function nsPer(count: number, step: (i: number) => void): number {
  const start = performance.now();
  for (let i = 0; i < count; i++) step(i);
  return ((performance.now() - start) * 1e6) / count;
}

/** The floor: a new key set into a plain `Map` that is never bounded. */
function unboundedMap(): number {
  const map = new Map<string, { tokens: number }>();
  for (let i = 0; i < LIMITER_KEYS; i++) map.set(`fill-${i}`, { tokens: 1 });
  return nsPer(
    FLOOD_KEYS,
    (i) => map.set(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, { tokens: 1 }),
  );
}

/** Per-new-key cost of a full rate limiter and replay cache (ns/key), against a plain map. */
export function runMapWorkloads(): BenchRow[] {
  let now = 0;
  const clock = { now: () => now };
  const limiter = new RateLimiter({ ratePerSecond: 10, clock });
  for (let i = 0; i < LIMITER_KEYS; i++) limiter.take(`fill-${i}`);
  const limiterNs = nsPer(FLOOD_KEYS, (i) => {
    now += 0.001;
    limiter.take(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  });
  const limiterBaseline = unboundedMap();

  const capacity = 65_536;
  // Every nonce a second newer than the last, inside a window that keeps them all.
  const replays = new ReplayCache({ capacity, windowSeconds: 1e9 });
  for (let i = 0; i < capacity; i++) replays.check("sensor", `f${i}`, i, i);
  const replayNs = nsPer(FLOOD_KEYS, (i) => {
    const t = capacity + i;
    replays.check("sensor", `n${i}`, t, t);
  });
  const replayBaseline = unboundedMap();

  return [
    row(
      `limits.rate_limiter new_keys=${FLOOD_KEYS} full=${LIMITER_KEYS}`,
      "ns/key",
      limiterNs,
      limiterBaseline,
      {
        baselineName: "unbounded Map set",
        details: { size: limiter.size },
      },
    ),
    row(
      `limits.replay_cache new_nonces=${FLOOD_KEYS} full=${capacity}`,
      "ns/key",
      replayNs,
      replayBaseline,
      {
        baselineName: "unbounded Map set",
        details: { size: replays.size, evictions: replays.evictions },
      },
    ),
  ];
}
