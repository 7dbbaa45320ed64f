/**
 * The bunyan-style logger ftp-srv's `log` option expects, writing to the hub's logger with
 * ftp-srv's chatter demoted and `PASS` arguments hidden.
 *
 * @module
 */
import type { Logger } from "../../observability/logger.ts";

/**
 * A bunyan-style logger (what ftp-srv's `log` option expects) that writes to our logger. Levels
 * map to the same level (trace to debug, fatal to error), except that ftp-srv's chatter (`info`,
 * one line per command and reply) goes to debug, and a client's broken connection, which ftp-srv
 * reports as an error, goes to info: it is the client's doing and is counted elsewhere. A
 * failure to listen goes to debug: the start-up error that names FTP_PORT says it once.
 */
export function bunyanAdapter(target: Logger): Record<string, unknown> {
  const forward = (level: "debug" | "info" | "warn" | "error") => (...args: unknown[]) => {
    const effective = level !== "error"
      ? level
      : args.some(isListenFailure)
      ? "debug"
      : args.some(isClientDisconnect)
      ? "info"
      : level;
    // ftp-srv logs every command and reply: format only what will be written.
    if (!target.isEnabledFor(effective === "warn" ? "warning" : effective)) return;
    const [first, ...rest] = args;
    const text = [first, ...rest].map((a) =>
      a instanceof Error ? a.message : typeof a === "string" ? String(redactPass(a)) : safeJson(a)
    ).join(" ");
    target[effective]("ftp-srv: {text}", { text: text.slice(0, 500) });
  };
  const adapter: Record<string, unknown> = {
    trace: forward("debug"),
    debug: forward("debug"),
    info: forward("debug"),
    warn: forward("warn"),
    error: forward("error"),
    fatal: forward("error"),
    child: () => adapter,
  };
  return adapter;
}

const CLIENT_DISCONNECTS = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT"]);

/** ftp-srv's own report of a bind failure (`listen EADDRINUSE ...`), which start-up reports. */
function isListenFailure(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const { code, syscall } = value as { code?: unknown; syscall?: unknown };
  return syscall === "listen" || code === "EADDRINUSE" || code === "EADDRNOTAVAIL";
}

function isClientDisconnect(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const code = (value as { code?: unknown }).code;
  return typeof code === "string" && CLIENT_DISCONNECTS.has(code);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (key, v) => (/pass/i.test(key) ? "***" : redactPass(v)));
  } catch {
    return String(value);
  }
}

/**
 * Hides the argument of a `PASS` command line: ftp-srv traces raw command lines (strings and
 * arrays of them), and a password must never reach a log.
 */
export function redactPass(value: unknown): unknown {
  return typeof value === "string" ? value.replace(/\bPASS\s+\S.*$/gim, "PASS ***") : value;
}
