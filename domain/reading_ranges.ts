/**
 * The plausible range of a sensor reading, by metric. A number outside its
 * metric's range (a humidity of 400 %) is refused `out_of_range`; a metric
 * not listed still has the general bound, and a reading must always be a
 * finite number (`NaN`, `Infinity`, `1e308` are refused).
 *
 * | metric | range |
 * |---|---|
 * | humidity, battery, brightness | 0 to 100 (%) |
 * | temperature | -100 to 200 (°C or °F) |
 * | illuminance, lux | 0 to 200 000 |
 * | pressure | 0 to 2 000 (hPa) |
 * | co2 | 0 to 100 000 (ppm) |
 * | any other | -1 000 000 000 to 1 000 000 000 |
 *
 * @module
 */
import type { Refusal } from "../broker/messages.ts";

/** Lowest and highest value of one metric. */
export interface ReadingRange {
  readonly min: number;
  readonly max: number;
}

/** The bound of a metric that has no range of its own. */
export const GENERAL_READING_RANGE: ReadingRange = { min: -1e9, max: 1e9 };

const PERCENT: ReadingRange = { min: 0, max: 100 };

/** Ranges by metric name (lower case). */
export const READING_RANGES: Readonly<Record<string, ReadingRange>> = {
  humidity: PERCENT,
  battery: PERCENT,
  brightness: PERCENT,
  temperature: { min: -100, max: 200 },
  illuminance: { min: 0, max: 200_000 },
  lux: { min: 0, max: 200_000 },
  pressure: { min: 0, max: 2_000 },
  co2: { min: 0, max: 100_000 },
};

/** The range of `metric`. */
export function readingRange(metric: string): ReadingRange {
  return READING_RANGES[metric.toLowerCase()] ?? GENERAL_READING_RANGE;
}

/**
 * Checks a numeric reading of `metric`: finite, and within its range. Undefined when it is
 * acceptable, the refusal otherwise. Non-numeric readings (`true`, a state word) pass.
 */
export function checkReading(metric: string, value: unknown): Refusal | undefined {
  if (typeof value !== "number") return undefined;
  if (!Number.isFinite(value)) {
    return { code: "malformed", message: "Reading is not a finite number" };
  }
  const { min, max } = readingRange(metric);
  if (value < min || value > max) {
    return { code: "out_of_range", message: `A ${metric} reading must be from ${min} to ${max}` };
  }
  return undefined;
}
