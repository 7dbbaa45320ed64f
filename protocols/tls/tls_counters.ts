/**
 * The counters of the TLS command channel, shared by the listener and its
 * sessions, rendered for `/metrics` by {@linkcode TlsCounters.snapshot}.
 *
 * @module
 */
import type { ErrorCode } from "../../broker/messages.ts";

/** Counters of one TLS listener. */
export class TlsCounters {
  connectionsTotal = 0;
  handshakeFailures = 0;
  refusedConnections = 0;
  idleClosed = 0;
  /** Pings refused before login (over the keep-alive budget). */
  preLoginPingsRefused = 0;
  slowClients = 0;
  requests = 0;
  commands = 0;
  acknowledged = 0;
  logins = 0;
  loginFailures = 0;
  pushes = 0;
  bytesIn = 0;
  bytesOut = 0;
  auditDropped = 0;
  /** Requests whose handler threw (a bug): answered "Internal error" and logged. */
  handlerErrors = 0;
  readonly #rejected = new Map<ErrorCode, number>();

  /** Counts one refused request by its code. */
  rejected(code: ErrorCode): void {
    this.#rejected.set(code, (this.#rejected.get(code) ?? 0) + 1);
  }

  /** Refusals so far with `code`. */
  rejectedCount(code: ErrorCode): number {
    return this.#rejected.get(code) ?? 0;
  }

  /** Every counter, named the Prometheus way (`rejected_total{reason="busy"}`). */
  snapshot(connections: number): Record<string, number> {
    const out: Record<string, number> = {
      connections,
      connections_total: this.connectionsTotal,
      handshake_failures_total: this.handshakeFailures,
      connections_refused_total: this.refusedConnections,
      idle_closed_total: this.idleClosed,
      prelogin_pings_refused_total: this.preLoginPingsRefused,
      slow_clients_total: this.slowClients,
      requests_total: this.requests,
      commands_total: this.commands,
      commands_acknowledged_total: this.acknowledged,
      logins_total: this.logins,
      login_failures_total: this.loginFailures,
      pushes_total: this.pushes,
      bytes_in_total: this.bytesIn,
      bytes_out_total: this.bytesOut,
      audit_dropped_total: this.auditDropped,
      handler_errors_total: this.handlerErrors,
    };
    for (const [code, count] of this.#rejected) out[`rejected_total{reason="${code}"}`] = count;
    return out;
  }
}
