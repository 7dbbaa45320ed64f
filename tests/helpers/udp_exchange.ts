/**
 * One datagram out, one reply back, for end-to-end tests.
 *
 * @module
 */

/** Sends `datagram` to the hub's UDP port on loopback and returns the reply text; fails after 5 s. */
export async function udpExchange(port: number, datagram: Uint8Array): Promise<string> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  // No reply within 5 s closes the socket, which makes receive() fail the test.
  const timer = setTimeout(() => socket.close(), 5000);
  try {
    await socket.send(datagram, { transport: "udp", hostname: "127.0.0.1", port });
    const [reply] = await socket.receive();
    return new TextDecoder().decode(reply);
  } finally {
    clearTimeout(timer);
    try {
      socket.close();
    } catch { /* closed by the timer */ }
  }
}
