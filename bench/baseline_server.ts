/**
 * The bare baselines the hub is compared with, each the minimum work on the
 * same transport, run as a child process of the benchmark:
 *
 * - `tls-echo`: `Deno.listenTls`, echoes every complete line (persistent,
 *   pipelined clients);
 * - `tls-once`: `Deno.listenTls`, reads one line, replies one line, closes
 *   (connect-per-command clients);
 * - `udp-echo`: `Deno.listenDatagram`, sends every datagram back.
 *
 * Usage: `deno run --allow-net=127.0.0.1 --allow-read bench/baseline_server.ts KIND [CERT KEY]`.
 * Prints `{"port": N}` once listening; stops when stdin closes.
 *
 * @module
 */
import { serveControl } from "./child_server.ts";

const NEWLINE = 10;

async function echoLines(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  let pending = new Uint8Array(0);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const chunk = pending.length ? concat(pending, buffer.subarray(0, n)) : buffer.subarray(0, n);
      const end = chunk.lastIndexOf(NEWLINE) + 1;
      if (end > 0) await writeAll(conn, chunk.subarray(0, end));
      pending = chunk.slice(end);
    }
  } catch { /* client went away */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

async function replyOnce(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  let seen = 0;
  try {
    while (seen < buffer.length) {
      const n = await conn.read(buffer.subarray(seen));
      if (n === null) break;
      seen += n;
      if (buffer.subarray(0, seen).includes(NEWLINE)) {
        await writeAll(conn, new TextEncoder().encode("OK done\n"));
        break;
      }
    }
  } catch { /* client went away */ }
  try {
    conn.close();
  } catch { /* closed */ }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
}

async function serveTls(kind: "tls-echo" | "tls-once", certPath: string, keyPath: string) {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: Deno.readTextFileSync(certPath),
    key: Deno.readTextFileSync(keyPath),
  });
  print({ port: listener.addr.port });
  const handle = kind === "tls-echo" ? echoLines : replyOnce;
  const accepting = (async () => {
    try {
      for await (const conn of listener) void handle(conn);
    } catch { /* closed */ }
  })();
  await serveControl();
  listener.close();
  await accepting;
}

async function serveUdp() {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  print({ port: (socket.addr as Deno.NetAddr).port });
  const serving = (async () => {
    try {
      for await (const [data, from] of socket) await socket.send(data, from);
    } catch { /* closed */ }
  })();
  await serveControl();
  socket.close();
  await serving;
}

function print(info: Record<string, unknown>): void {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(info) + "\n"));
}

if (import.meta.main) {
  const [kind, cert, key] = Deno.args;
  if (kind === "udp-echo") await serveUdp();
  else if ((kind === "tls-echo" || kind === "tls-once") && cert && key) {
    await serveTls(kind, cert, key);
  } else {
    Deno.stderr.writeSync(
      new TextEncoder().encode("Usage: baseline_server.ts tls-echo|tls-once CERT KEY | udp-echo\n"),
    );
    Deno.exit(2);
  }
  Deno.exit(0);
}
