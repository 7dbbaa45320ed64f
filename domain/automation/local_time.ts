/**
 * Wall-clock time in a named time zone (IANA, e.g. `Europe/Paris`), as
 * time-of-day triggers and time-window conditions need it. Pure functions
 * of an instant (ms since the epoch) and a zone; `Intl` does the zone rules.
 *
 * Daylight saving: a time of day that does not exist on a day (clocks jump
 * forward over it) happens one hour later in wall time (02:30 becomes
 * 03:30); a time that exists twice (clocks go back over it) happens once,
 * at its second occurrence.
 *
 * @module
 */
import type { Weekday } from "./rule_schema.ts";

/** The wall-clock reading of an instant in a zone. */
export interface LocalTime {
  readonly year: number;
  /** 1-12. */
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly weekday: Weekday;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "short",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is a zone this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock reading of `ms` in `timeZone`. */
export function localTime(ms: number, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: (parts.weekday ?? "Mon").slice(0, 3).toLowerCase() as Weekday,
  };
}

/** Minutes since local midnight of an `HH:MM` text. */
export function minutesOf(clock: string): number {
  const [h, m] = clock.split(":");
  return Number(h) * 60 + Number(m);
}

/** Minutes since local midnight of `ms` in `timeZone`. */
export function localMinutes(ms: number, timeZone: string): number {
  const t = localTime(ms, timeZone);
  return t.hour * 60 + t.minute;
}

/** The zone's offset from UTC at `ms`, in ms (positive east of Greenwich). */
function offsetAt(ms: number, timeZone: string): number {
  const t = localTime(ms, timeZone);
  const asUtc = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant the wall clock of `timeZone` shows `clock` (HH:MM) on the given local date. */
function instantOn(
  date: { year: number; month: number; day: number },
  clock: string,
  timeZone: string,
): number {
  const minutes = minutesOf(clock);
  const wall = Date.UTC(
    date.year,
    date.month - 1,
    date.day,
    Math.floor(minutes / 60),
    minutes % 60,
  );
  let guess = wall - offsetAt(wall, timeZone);
  guess = wall - offsetAt(guess, timeZone);
  return guess;
}

/**
 * The latest instant at or before `nowMs` when the wall clock of `timeZone`
 * showed `clock` (HH:MM).
 *
 * @example
 * ```ts
 * lastOccurrence("22:30", "UTC", Date.parse("2026-12-01T23:00:00Z")); // 2026-12-01T22:30Z
 * ```
 */
export function lastOccurrence(clock: string, timeZone: string, nowMs: number): number {
  const today = localTime(nowMs, timeZone);
  const candidate = instantOn(today, clock, timeZone);
  if (candidate <= nowMs) return candidate;
  const yesterday = localTime(nowMs - 86_400_000, timeZone);
  return instantOn(yesterday, clock, timeZone);
}

/** The first instant after `nowMs` when the wall clock of `timeZone` shows `clock`. */
export function nextOccurrence(clock: string, timeZone: string, nowMs: number): number {
  const today = localTime(nowMs, timeZone);
  const candidate = instantOn(today, clock, timeZone);
  if (candidate > nowMs) return candidate;
  const tomorrow = localTime(nowMs + 86_400_000, timeZone);
  return instantOn(tomorrow, clock, timeZone);
}
