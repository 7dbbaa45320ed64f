/**
 * Collects the hub's log records in memory for a test (`await using logs =
 * await captureLogs()`), so that a test can check what was logged, and that
 * no secret was.
 *
 * @module
 */
import { configure, type LogRecord, reset } from "@logtape/logtape";

/** Log records kept while the capture is active. */
export interface LogCapture extends AsyncDisposable {
  readonly records: LogRecord[];
  /** Each record's level and rendered message, e.g. `error TLS request handler failed ...`. */
  lines(): string[];
}

/** Starts collecting every `hub` log record at `debug` and above; dispose to stop. */
export async function captureLogs(): Promise<LogCapture> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["hub"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  return {
    records,
    lines: () =>
      records.map((r) =>
        `${r.level} ${
          r.message.map((part) => (typeof part === "string" ? part : renderValue(part))).join("")
        }`
      ),
    [Symbol.asyncDispose]: () => reset(),
  };
}

function renderValue(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return typeof value === "string" ? value : Deno.inspect(value);
}
