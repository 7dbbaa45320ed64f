/**
 * Raw clients that connect from a chosen loopback source address
 * (127.0.0.2, 127.0.0.3, ...), for tests of per-address limits. Deno's own
 * `Deno.connect` cannot bind a source address; `node:net` can. A client
 * reads lines (`\n`, CR dropped) and FTP replies, writes raw bytes, and can
 * be upgraded to TLS in place (FTP's AUTH TLS).
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { Buffer } from "node:buffer";

/** A connected client that reads lines. */
export class SourceClient implements AsyncDisposable {
  #socket: net.Socket;
  #buffered = "";
  #ended = false;
  #waiters: (() => void)[] = [];
  #error: string | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#listen(socket);
  }

  /** Connects plain TCP from `source` to 127.0.0.1:`port`. */
  static connect(source: string, port: number): Promise<SourceClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port, localAddress: source });
      socket.once("connect", () => resolve(new SourceClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Connects TLS from `source` to 127.0.0.1:`port`, trusting `ca`. */
  static async connectTls(source: string, port: number, ca: string): Promise<SourceClient> {
    const plain = await SourceClient.connect(source, port);
    await plain.startTls(ca);
    return plain;
  }

  /** True once the peer closed (or the connection failed). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Upgrades this connection to TLS (after FTP's `234`), trusting `ca`. */
  startTls(ca: string): Promise<void> {
    const raw = this.#socket;
    raw.removeAllListeners("data");
    raw.removeAllListeners("end");
    raw.removeAllListeners("close");
    return new Promise((resolve, reject) => {
      const secure = tls.connect({
        socket: raw,
        ca,
        servername: "localhost",
        checkServerIdentity: () => undefined,
      });
      secure.once("secureConnect", () => {
        this.#socket = secure;
        this.#listen(secure);
        resolve();
      });
      secure.once("error", reject);
    });
  }

  /** Writes bytes or text; resolves once handed to the socket (false when it failed). */
  write(data: string | Uint8Array): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.#ended || this.#socket.destroyed) return resolve(false);
      this.#socket.write(typeof data === "string" ? data : Buffer.from(data), (error) => {
        resolve(!error);
      });
    });
  }

  /** Reads one line without its terminator; undefined at end of stream. */
  async readLine(): Promise<string | undefined> {
    while (true) {
      const newline = this.#buffered.indexOf("\n");
      if (newline !== -1) {
        const line = this.#buffered.slice(0, newline).replace(/\r$/, "");
        this.#buffered = this.#buffered.slice(newline + 1);
        return line;
      }
      if (this.#ended) return undefined;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Reads one FTP reply (all lines of a multi-line one); undefined at end of stream. */
  async readReply(): Promise<string | undefined> {
    const first = await this.readLine();
    if (first === undefined || !/^\d{3}-/.test(first)) return first;
    const end = `${first.slice(0, 3)} `;
    const lines = [first];
    while (true) {
      const line = await this.readLine();
      if (line === undefined) return lines.join("\n");
      lines.push(line);
      if (line.startsWith(end)) return lines.join("\n");
    }
  }

  /** Sends one FTP command (CRLF added) and reads its reply. */
  async command(line: string): Promise<string | undefined> {
    await this.write(`${line}\r\n`);
    return await this.readReply();
  }

  /** Reads everything until the peer closes. */
  async readToEnd(): Promise<string> {
    while (!this.#ended) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    const rest = this.#buffered;
    this.#buffered = "";
    return rest;
  }

  /** Why the connection failed, if it did. */
  get error(): string | undefined {
    return this.#error;
  }

  /** Closes at once. */
  close(): void {
    this.#socket.destroy();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return this.#ended ? Promise.resolve() : new Promise((resolve) => {
      this.#socket.once("close", () => resolve());
    });
  }

  #listen(socket: net.Socket): void {
    const decoder = new TextDecoder();
    socket.on("data", (chunk: Uint8Array) => {
      this.#buffered += decoder.decode(chunk, { stream: true });
      this.#wake();
    });
    socket.on("error", (error: Error) => {
      this.#error = error.message;
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
