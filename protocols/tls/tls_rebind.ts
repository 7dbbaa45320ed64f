/**
 * A TLS listening socket whose certificate can be replaced without dropping
 * connections: `Deno.listenTls` cannot change its certificate, so a reload
 * binds a second listener on the same address with `SO_REUSEPORT`, then
 * closes the first. Connections already accepted are independent of the
 * listener and carry on; new ones get the new certificate.
 *
 * `SO_REUSEPORT` would also let a second hub share the port silently, so
 * {@linkcode listenTlsReloadable} first binds the address without it: a port
 * in use still fails at start with AddrInUse.
 *
 * @module
 */

/** Address and credentials of a TLS listener. */
export interface TlsBinding {
  readonly hostname: string;
  readonly port: number;
  readonly cert: string;
  readonly key: string;
}

/** Binds a TLS listener that {@linkcode rebindTls} can later replace. Throws like `Deno.listenTls`. */
export function listenTlsReloadable(binding: TlsBinding): Deno.TlsListener {
  // The probe has no SO_REUSEPORT: it fails when anyone holds the address.
  const probe = Deno.listen({ hostname: binding.hostname, port: binding.port });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return Deno.listenTls({ ...binding, port, reusePort: true });
}

/**
 * Binds a new listener with `cert` and `key` on the address of `current`
 * (which the caller then closes). Throws when the certificate or key is
 * invalid; `current` is then untouched.
 */
export function rebindTls(current: Deno.TlsListener, cert: string, key: string): Deno.TlsListener {
  const addr = current.addr as Deno.NetAddr;
  return Deno.listenTls({ hostname: addr.hostname, port: addr.port, cert, key, reusePort: true });
}
