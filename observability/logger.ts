/**
 * The project's one logger. Categories start with `hub`; lines are readable
 * text by default and JSON lines when configured. Never pass a secret to a
 * log call: values are logged as given.
 *
 * @module
 */
import {
  configure,
  getLogger as getLogtapeLogger,
  getTextFormatter,
  jsonLinesFormatter,
  type Logger,
  type LogRecord,
  reset,
} from "@logtape/logtape";

export type { Logger };

/** The log levels a user can choose. */
export type LogLevel = "debug" | "info" | "warning" | "error";

/** Logging settings. */
export interface LoggingOptions {
  readonly level: LogLevel;
  readonly format: "text" | "json";
}

/** Returns the logger for a category below `hub`, e.g. `getLogger("tls")`. */
export function getLogger(...category: string[]): Logger {
  return getLogtapeLogger(["hub", ...category]);
}

/** Configures the logger once for the process (main and the CLI call this). */
export async function configureLogging(options: LoggingOptions): Promise<void> {
  const formatter = options.format === "json" ? jsonLinesFormatter : getTextFormatter({
    timestamp: "date-time-tz",
    value: (v: unknown) => (typeof v === "string" ? v : Deno.inspect(v)),
  });
  await configure({
    reset: true,
    sinks: { stderr: stderrSink(formatter) },
    loggers: [
      { category: ["hub"], lowestLevel: options.level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Undoes {@linkcode configureLogging}. */
export async function resetLogging(): Promise<void> {
  await reset();
}

/** A synchronous sink to stderr, so stdout stays for program output and no line is lost at exit. */
function stderrSink(format: (record: LogRecord) => string): (record: LogRecord) => void {
  const encoder = new TextEncoder();
  return (record) => {
    Deno.stderr.writeSync(encoder.encode(format(record)));
  };
}
