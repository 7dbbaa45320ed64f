/**
 * How the benchmark speaks to the hub's TLS command channel: log in with the
 * test fixture's token, then one command per line (see docs/PROTOCOL.md).
 *
 * @module
 */
import { TEST_SECRETS } from "../tests/helpers/hub_fixture.ts";
import type { LineDialect } from "./tls_load.ts";

/** The principal every benchmark connection logs in as. */
export const BENCH_PRINCIPAL = "admin";

/** Logged in as `admin`; each request toggles the lamp (validated, applied, audited). */
export const HUB_DIALECT: LineDialect = {
  hello: [`login ${BENCH_PRINCIPAL} ${TEST_SECRETS.token(BENCH_PRINCIPAL)}`],
  request: () => "lamp toggle",
  // Connect-per-command clients ask the hub to close after the reply (see tls_load.ts).
  farewell: "quit",
  ok: (line) => line.startsWith("Command '") || line.startsWith("Logged in as "),
};
