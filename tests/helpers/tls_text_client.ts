/**
 * A raw text-form client for the TLS channel tests: send any bytes, read
 * whole lines, or read everything until the hub closes.
 *
 * @module
 */
import type { HubFixture } from "./hub_fixture.ts";
import { listenerPort } from "./hub_fixture.ts";
import { HubClient } from "../../client/hub_client.ts";

const encoder = new TextEncoder();

/** A TLS connection that reads lines. */
export class TextConnection implements AsyncDisposable {
  readonly conn: Deno.TlsConn;
  #buffered = "";
  readonly #decoder = new TextDecoder();
  readonly #chunk = new Uint8Array(64 * 1024);
  #eof = false;

  constructor(conn: Deno.TlsConn) {
    this.conn = conn;
  }

  /** Sends text or bytes as they are (add `\n` yourself). */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Sends `line` + newline and reads one reply line. */
  async ask(line: string): Promise<string> {
    await this.send(line + "\n");
    return (await this.readLine()) ?? "<closed>";
  }

  /** Reads one line (without `\n`); undefined at end of stream. */
  async readLine(): Promise<string | undefined> {
    while (true) {
      const newline = this.#buffered.indexOf("\n");
      if (newline !== -1) {
        const line = this.#buffered.slice(0, newline);
        this.#buffered = this.#buffered.slice(newline + 1);
        return line;
      }
      if (this.#eof || !(await this.#fill())) return undefined;
    }
  }

  /** Reads `n` lines. */
  async readLines(n: number): Promise<string[]> {
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      const line = await this.readLine();
      if (line === undefined) break;
      lines.push(line);
    }
    return lines;
  }

  /** Reads everything until the hub closes the connection. */
  async readToEnd(): Promise<string> {
    while (!this.#eof && await this.#fill());
    const rest = this.#buffered;
    this.#buffered = "";
    return rest;
  }

  async #fill(): Promise<boolean> {
    let n: number | null;
    try {
      n = await this.conn.read(this.#chunk);
    } catch {
      n = null;
    }
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#buffered += this.#decoder.decode(this.#chunk.subarray(0, n), { stream: true });
    return true;
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** The fixture's certificate (the hub made it at start). */
export function fixtureCa(fixture: HubFixture): string {
  return Deno.readTextFileSync(fixture.env.SSL_CERT!);
}

/** Opens a raw text connection to the fixture's TLS listener. */
export async function openText(fixture: HubFixture): Promise<TextConnection> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: listenerPort(fixture.hub, "tls"),
    caCerts: [fixtureCa(fixture)],
  });
  await conn.handshake();
  return new TextConnection(conn);
}

/** Opens a text connection and logs in as `principal` with its test token. */
export async function openLoggedIn(
  fixture: HubFixture,
  principal: string,
  token: string,
): Promise<TextConnection> {
  const c = await openText(fixture);
  const reply = await c.ask(`login ${principal} ${token}`);
  if (reply !== `Logged in as ${principal}`) throw new Error(`Login failed: ${reply}`);
  return c;
}

/** Opens a JSON client to the fixture. */
export function openClient(fixture: HubFixture): Promise<HubClient> {
  return HubClient.connect({
    port: listenerPort(fixture.hub, "tls"),
    caCerts: [fixtureCa(fixture)],
  });
}
