/**
 * The bare servers behind the benchmark's listener trade-off and TLS
 * ceiling rows, run as a child process: each answers every line with one
 * line (no parsing, no authentication, no audit) and keeps the
 * connection open until the client closes it (the hub's pattern: a
 * connection may send more commands):
 *
 * - `tls-held`: `Deno.listenTls` (accepted connections have no
 *   `setNoDelay`, so the reply can wait for the client's delayed ACK);
 * - `node-tls-held`: `node:tls` `createServer` with `noDelay` (what the hub
 *   listens with).
 *
 * Usage: `deno run --allow-net=127.0.0.1 --allow-read --allow-env bench/baseline_server.ts KIND CERT KEY`.
 * Prints `{"port": N}` once listening; stops when stdin closes.
 *
 * @module
 */
import tls from "node:tls";
import type { AddressInfo } from "node:net";
import { serveControl } from "./child_server.ts";

const NEWLINE = 10;
const REPLY = new TextEncoder().encode("OK done\n");

/** One reply per complete line in `chunk` (pipelined requests arrive several to a chunk). */
function repliesFor(chunk: Uint8Array): Uint8Array | undefined {
  let lines = 0;
  for (const byte of chunk) if (byte === NEWLINE) lines++;
  if (lines === 0) return undefined;
  if (lines === 1) return REPLY;
  const out = new Uint8Array(REPLY.length * lines);
  for (let i = 0; i < lines; i++) out.set(REPLY, i * REPLY.length);
  return out;
}

async function replyHeld(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const replies = repliesFor(buffer.subarray(0, n));
      if (replies) await conn.write(replies);
    }
  } catch { /* client went away */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

async function serveDeno(cert: string, key: string): Promise<void> {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  print({ port: listener.addr.port });
  const accepting = (async () => {
    try {
      for await (const conn of listener) void replyHeld(conn);
    } catch { /* closed */ }
  })();
  await serveControl();
  listener.close();
  await accepting;
}

async function serveNode(cert: string, key: string): Promise<void> {
  const server = tls.createServer({ cert, key, noDelay: true }, (socket) => {
    socket.on("data", (chunk: Uint8Array) => {
      const replies = repliesFor(chunk);
      if (replies) socket.write(replies);
    });
    socket.on("error", () => socket.destroy());
    socket.on("end", () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  print({ port: (server.address() as AddressInfo).port });
  await serveControl();
  server.close(); // open connections end with the process
}

function print(info: Record<string, unknown>): void {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(info) + "\n"));
}

if (import.meta.main) {
  const [kind, certPath, keyPath] = Deno.args;
  if ((kind === "tls-held" || kind === "node-tls-held") && certPath && keyPath) {
    const cert = Deno.readTextFileSync(certPath);
    const key = Deno.readTextFileSync(keyPath);
    await (kind === "tls-held" ? serveDeno(cert, key) : serveNode(cert, key));
  } else {
    Deno.stderr.writeSync(
      new TextEncoder().encode("Usage: baseline_server.ts tls-held|node-tls-held CERT KEY\n"),
    );
    Deno.exit(2);
  }
  Deno.exit(0);
}
