/**
 * The one-shot TLS exchange of a Node.js-style client is not held by
 * Nagle's algorithm: the hub's side of every accepted TLS connection has
 * TCP_NODELAY set before its reply is written (a reply written while the
 * TLS 1.3 session tickets are unacknowledged otherwise waits for the
 * client's delayed ACK). The option is read from the hub's own socket
 * (tests/helpers/tcp_nodelay.py, pidfd_getfd); a plain accepted
 * `Deno.listen` socket is read the same way and shows it unset, so the
 * probe can tell the two apart. Asserts the mechanism, never a time.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { listenerPort, REPO_ROOT, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { fixtureCa } from "./helpers/tls_text_client.ts";

const PROBE = `${REPO_ROOT}tests/helpers/tcp_nodelay.py`;

async function nodelayOf(localPort: number, remotePort: number): Promise<number> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [PROBE, String(Deno.pid), String(localPort), String(remotePort)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const answer = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    nodelay?: number;
    error?: string;
  };
  assert.equal(answer.error, undefined, `probe: ${answer.error}`);
  return answer.nodelay!;
}

Deno.test("tls - the hub's side of a Node.js-style one-shot connection has TCP_NODELAY set", async () => {
  await using hub = await startTestHub();
  const port = listenerPort(hub.hub, "tls");
  const socket = tls.connect({
    host: "127.0.0.1",
    port,
    ca: fixtureCa(hub),
    servername: "localhost",
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    });
    // The seed's pattern: the command right after the handshake, then wait for the reply.
    socket.write(`login admin ${TEST_SECRETS.token("admin")}\nlamp toggle\n`);
    const replies = await new Promise<string>((resolve) => {
      let text = "";
      socket.on("data", (chunk: Uint8Array) => {
        text += new TextDecoder().decode(chunk);
        if (text.split("\n").length > 2) resolve(text);
      });
    });
    assert.match(replies, /^Logged in as admin\nCommand 'lamp toggle' received and executed/);
    assert.equal(await nodelayOf(port, socket.localPort!), 1);
  } finally {
    socket.destroy();
  }
});

Deno.test("tls - the TCP_NODELAY probe sees the option unset on a plain accepted socket", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  using client = await Deno.connect({ hostname: "127.0.0.1", port });
  using accepted = await listener.accept();
  assert.equal(await nodelayOf(port, (client.localAddr as Deno.NetAddr).port), 0);
  accepted.setNoDelay(true);
  assert.equal(await nodelayOf(port, (client.localAddr as Deno.NetAddr).port), 1);
});
