/**
 * Formats credentials generated at first start, to be shown exactly once.
 *
 * @module
 */
import type { GeneratedCredential } from "./credential_store.ts";

const LABELS = {
  token: "TLS token",
  password: "FTP password",
  udp_key: "UDP HMAC key (hex)",
} as const;

/** The once-only banner listing generated credentials. */
export function formatGeneratedCredentials(credentials: readonly GeneratedCredential[]): string {
  const width = Math.max(...credentials.map((c) => c.principal.length));
  const lines = credentials.map((c) =>
    `  ${c.principal.padEnd(width)}  ${LABELS[c.kind].padEnd(18)}  ${c.secret}`
  );
  return [
    "",
    "=== New credentials (shown once; only their hashes are stored, UDP keys stay in the database) ===",
    ...lines,
    "=== Save them now. To replace one: deno task cli credentials set <principal> token|password|udp_key ===",
    "",
  ].join("\n") + "\n";
}
