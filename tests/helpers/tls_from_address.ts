/**
 * A TLS text client that connects from a chosen loopback address
 * (`127.0.0.2`, ...), for tests of limits kept per source address.
 * `Deno.connectTls` cannot pick its source address, so this binds a
 * `node:net` socket with `localAddress` and starts `node:tls` on it.
 *
 * @module
 */
import { connect as connectTcp } from "node:net";
import { connect, type TLSSocket } from "node:tls";

/** A line-reading TLS connection bound to a chosen local address. */
export class AddressedConnection implements AsyncDisposable {
  readonly #socket: TLSSocket;
  #buffered = "";
  #ended = false;
  #wake: (() => void) | undefined;

  private constructor(socket: TLSSocket) {
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.#buffered += chunk;
      this.#wake?.();
    });
    const end = () => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", end);
  }

  /** Connects from `localAddress` to the hub's TLS listener on 127.0.0.1:`port`. */
  static open(localAddress: string, port: number, ca: string): Promise<AddressedConnection> {
    return new Promise((resolve, reject) => {
      const tcp = connectTcp({ host: "127.0.0.1", port, localAddress });
      tcp.once("error", reject);
      const socket = connect({ socket: tcp, ca, servername: "localhost" });
      socket.once("secureConnect", () => resolve(new AddressedConnection(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends text as it is. */
  send(text: string): void {
    if (!this.#ended) this.#socket.write(text);
  }

  /** Reads one line; undefined once the hub closed the connection. */
  async readLine(): Promise<string | undefined> {
    while (true) {
      const newline = this.#buffered.indexOf("\n");
      if (newline !== -1) {
        const line = this.#buffered.slice(0, newline);
        this.#buffered = this.#buffered.slice(newline + 1);
        return line;
      }
      if (this.#ended) return undefined;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  /** Sends `line` and a newline, then reads one reply line. */
  async ask(line: string): Promise<string> {
    this.send(line + "\n");
    return (await this.readLine()) ?? "<closed>";
  }

  /** Reads until the hub closes the connection or `max` lines came. */
  async readLines(max: number): Promise<string[]> {
    const lines: string[] = [];
    while (lines.length < max) {
      const line = await this.readLine();
      if (line === undefined) break;
      lines.push(line);
    }
    return lines;
  }

  /** Closes the connection and waits until it is closed. */
  async close(): Promise<void> {
    if (this.#socket.destroyed) return;
    const closed = new Promise<void>((resolve) => this.#socket.once("close", () => resolve()));
    this.#socket.destroy();
    await closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
