/**
 * TLS load clients: connect-per-command (the seed's pattern) and persistent
 * connections that pipeline a configurable number of requests in flight.
 * Closed loop: a new request goes out only when a reply came back; every
 * latency is measured from the request's write to its reply line. Every
 * loop is bounded in count and in time.
 *
 * @module
 */
import { LatencyRecorder, type LoopFigures, summarise } from "./latency.ts";

/** The lines a client speaks (the hub's dialect: bench/hub_dialect.ts). */
export interface LineDialect {
  /** Lines sent right after connecting (login), each answered by one line. */
  readonly hello: readonly string[];
  /** The request line number `i` (without newline). */
  request(i: number): string;
  /** True when a reply line reports success. */
  ok(line: string): boolean;
  /**
   * A line a connect-per-command client sends right after its request, in
   * the same write, asking the server to close once it has answered (`quit`
   * for the hub). Its reply is not waited for. The server's close flushes
   * the last reply at once; without it, the first reply on a fresh TLS 1.3
   * connection may wait for the client's delayed ACK (docs/PROTOCOL.md,
   * "Latency notes").
   */
  readonly farewell?: string;
}

/** Where to connect. */
export interface TlsTarget {
  readonly port: number;
  /** PEM of the server certificate (self-signed dev certificate). */
  readonly caCert: string;
}

/** Bounds of one run. */
export interface LoadBounds {
  /** Most requests in total. */
  readonly maxRequests: number;
  /** Stop sending after this long. */
  readonly seconds: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Opens a TLS connection to the target on loopback, with Nagle's algorithm
 * off (`Deno.connectTls` leaves it on, and a request written right after
 * the handshake then waits for the server's delayed ACK: about 40 ms).
 */
export async function connect(target: TlsTarget): Promise<Deno.TlsConn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: target.port });
  tcp.setNoDelay(true);
  return await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [target.caCert] });
}

/** Reads lines from a connection, keeping the partial tail between reads. */
export class LineReader {
  readonly #conn: Deno.Conn;
  readonly #buffer = new Uint8Array(64 * 1024);
  #partial = "";
  readonly #lines: string[] = [];

  /** @param conn the connection to read */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Every complete line available after one read; null at end of stream. */
  async readLines(): Promise<string[] | null> {
    if (this.#lines.length) return this.#lines.splice(0);
    const n = await this.#conn.read(this.#buffer);
    if (n === null) return null;
    const parts = (this.#partial + decoder.decode(this.#buffer.subarray(0, n))).split("\n");
    this.#partial = parts.pop() ?? "";
    return parts;
  }

  /** The next `count` lines (fewer when the stream ends). */
  async take(count: number): Promise<string[]> {
    const out: string[] = [];
    while (out.length < count) {
      const lines = await this.readLines();
      if (lines === null) break;
      const need = count - out.length;
      out.push(...lines.slice(0, need));
      this.#lines.push(...lines.slice(need));
    }
    return out;
  }
}

async function writeAll(conn: Deno.Conn, text: string): Promise<void> {
  const data = encoder.encode(text);
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
}

/** Opens a connection and says the dialect's hello; throws when the login is refused. */
export async function openSession(
  target: TlsTarget,
  dialect: LineDialect,
): Promise<{ conn: Deno.TlsConn; reader: LineReader }> {
  const conn = await connect(target);
  const reader = new LineReader(conn);
  if (dialect.hello.length) {
    await writeAll(conn, dialect.hello.map((l) => l + "\n").join(""));
    const replies = await reader.take(dialect.hello.length);
    const refused = replies.find((l) => !dialect.ok(l));
    if (replies.length < dialect.hello.length || refused !== undefined) {
      conn.close();
      throw new Error(`Login refused: ${refused ?? "connection closed"}`);
    }
  }
  return { conn, reader };
}

/**
 * Connect-per-command: `concurrency` loops each connect, (log in,) send one
 * command (and the dialect's farewell, in the same write), read its reply,
 * close; latency covers the whole exchange.
 */
export async function connectPerCommand(
  target: TlsTarget,
  dialect: LineDialect,
  concurrency: number,
  bounds: LoadBounds,
): Promise<LoopFigures> {
  const recorder = new LatencyRecorder();
  let issued = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + bounds.seconds * 1000;
  const loop = async () => {
    while (issued < bounds.maxRequests && performance.now() < deadline) {
      const i = issued++;
      const t0 = performance.now();
      let conn: Deno.TlsConn | undefined;
      try {
        conn = await connect(target);
        const reader = new LineReader(conn);
        const lines = [...dialect.hello, dialect.request(i)];
        const sent = dialect.farewell === undefined ? lines : [...lines, dialect.farewell];
        await writeAll(conn, sent.map((l) => l + "\n").join(""));
        const replies = await reader.take(lines.length);
        if (replies.length === lines.length && replies.every((l) => dialect.ok(l))) {
          recorder.record(performance.now() - t0);
        } else errors++;
      } catch {
        errors++;
      } finally {
        try {
          conn?.close();
        } catch { /* closed */ }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return summarise(recorder, (performance.now() - start) / 1000, errors);
}

/**
 * Persistent pipelining: `connections` sessions, each keeping `depth`
 * requests in flight; replies come back in order on each connection.
 */
export async function pipelined(
  target: TlsTarget,
  dialect: LineDialect,
  connections: number,
  depth: number,
  bounds: LoadBounds,
): Promise<LoopFigures> {
  const sessions = await Promise.all(
    Array.from({ length: connections }, () => openSession(target, dialect)),
  );
  const recorder = new LatencyRecorder();
  let issued = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + bounds.seconds * 1000;
  const mayIssue = () => issued < bounds.maxRequests && performance.now() < deadline;
  const run = async ({ conn, reader }: { conn: Deno.TlsConn; reader: LineReader }) => {
    const sentAt: number[] = [];
    let head = 0;
    const batch = (n: number) => {
      let text = "";
      const now = performance.now();
      for (let k = 0; k < n && mayIssue(); k++) {
        text += dialect.request(issued++) + "\n";
        sentAt.push(now);
      }
      return text;
    };
    try {
      const first = batch(depth);
      if (first) await writeAll(conn, first);
      while (head < sentAt.length) {
        const lines = await reader.readLines();
        if (lines === null) {
          errors += sentAt.length - head;
          break;
        }
        const now = performance.now();
        let answered = 0;
        for (const line of lines) {
          if (head >= sentAt.length) break;
          const t0 = sentAt[head++]!;
          if (dialect.ok(line)) recorder.record(now - t0);
          else errors++;
          answered++;
        }
        if (head > 4096) {
          sentAt.splice(0, head);
          head = 0;
        }
        const next = batch(answered);
        if (next) await writeAll(conn, next);
      }
    } catch {
      errors += sentAt.length - head;
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  await Promise.all(sessions.map(run));
  return summarise(recorder, (performance.now() - start) / 1000, errors);
}
