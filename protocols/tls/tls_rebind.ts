/**
 * The TLS command channel's listening socket: a `node:net` server whose
 * connections get `setNoDelay(true)` and are then wrapped in a server-side
 * `node:tls` `TLSSocket` (node_tls_conn.ts says why not `Deno.listenTls`).
 * The owner sees each TCP connection first, in accept order (limits are
 * decided before any handshake work), then asks for its handshake.
 *
 * The certificate can be replaced without dropping connections:
 * {@linkcode ReloadableTlsServer.reload} swaps the secure context; open
 * connections carry on, new ones get the new certificate.
 *
 * The address is first bound with `Deno.listen`, so a port in use fails at
 * start with `AddrInUse` and port 0 gets a free port.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { createPrivateKey, X509Certificate } from "node:crypto";

/** Address and credentials of a TLS listener. */
export interface TlsBinding {
  readonly hostname: string;
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  /** Time a client has to finish its handshake. */
  readonly handshakeTimeoutMs: number;
}

/** One accepted TCP connection, before its handshake. */
export interface PendingTls {
  /** The client's address (without port) and `host:port`. */
  readonly host: string;
  readonly address: string;
  /** Runs the server handshake within the deadline; the socket, or undefined (and destroyed). */
  handshake(): Promise<tls.TLSSocket | undefined>;
  /** Drops the connection without a handshake. */
  drop(): void;
}

/**
 * Checks that `cert` is a PEM certificate and `key` its private key; the
 * reason when not (`node:tls` itself accepts anything until a client comes).
 */
export function checkCertificate(cert: string, key: string): string | undefined {
  try {
    const x509 = new X509Certificate(cert);
    const privateKey = createPrivateKey(key);
    if (!x509.checkPrivateKey(privateKey)) return "The key does not belong to the certificate";
    return undefined;
  } catch (error) {
    return `Unreadable certificate or key: ${error instanceof Error ? error.message : error}`;
  }
}

function secure(
  raw: net.Socket,
  context: tls.SecureContext,
  timeoutMs: number,
): Promise<tls.TLSSocket | undefined> {
  const socket = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.off("error", failed);
      socket.off("close", failed);
      socket.off("end", failed);
      if (!ok) socket.destroy();
      resolve(ok ? socket : undefined);
    };
    const failed = () => done(false);
    const timer = setTimeout(failed, timeoutMs);
    socket.once("secure", () => done(true));
    socket.once("error", failed);
    socket.once("close", failed);
    // A client that closes before its handshake shows only as the end of stream (Deno 2.9.6).
    socket.once("end", failed);
  });
}

/** A listening TLS server built on `node:net` and `node:tls`. */
export class ReloadableTlsServer {
  readonly hostname: string;
  readonly port: number;
  readonly #server: net.Server;
  #context: tls.SecureContext;

  private constructor(
    server: net.Server,
    context: tls.SecureContext,
    hostname: string,
    port: number,
  ) {
    this.#server = server;
    this.#context = context;
    this.hostname = hostname;
    this.port = port;
  }

  /**
   * Binds and listens; `onConnection` gets every TCP connection in accept order. Rejects when
   * the address cannot be bound or the certificate or key is unreadable.
   */
  static async listen(
    binding: TlsBinding,
    onConnection: (pending: PendingTls) => void,
  ): Promise<ReloadableTlsServer> {
    const problem = checkCertificate(binding.cert, binding.key);
    if (problem !== undefined) throw new Error(problem);
    const context = tls.createSecureContext({ cert: binding.cert, key: binding.key });
    const probe = Deno.listen({ hostname: binding.hostname, port: binding.port });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    // Half-open: a client may end its side right after its requests and still read every reply.
    const server = net.createServer({ allowHalfOpen: true }, (raw) => {
      // Before any byte is written: replies leave at once instead of waiting for delayed ACKs.
      raw.setNoDelay(true);
      raw.on("error", () => raw.destroy());
      const host = raw.remoteAddress ?? "";
      onConnection({
        host,
        address: `${host.includes(":") ? `[${host}]` : host}:${raw.remotePort ?? 0}`,
        handshake: () => secure(raw, self.#context, binding.handshakeTimeoutMs),
        drop: () => raw.destroy(),
      });
    });
    const self = new ReloadableTlsServer(server, context, binding.hostname, port);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, binding.hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", () => {/* accept errors concern one connection; the server carries on */});
    return self;
  }

  /** Replaces the certificate for new connections; the reason when it was refused. */
  reload(cert: string, key: string): string | undefined {
    const problem = checkCertificate(cert, key);
    if (problem !== undefined) return problem;
    try {
      this.#context = tls.createSecureContext({ cert, key });
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /**
   * Stops accepting. Accepted sessions are closed by their owner; a handshake in progress
   * ends within the handshake timeout.
   */
  close(): void {
    this.#server.close();
  }
}
