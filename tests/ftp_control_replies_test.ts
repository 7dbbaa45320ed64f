/**
 * The control-connection commands of every upload (TYPE before each
 * transfer, NOOP), checked over a real socket: the replies ftplib and
 * cameras parse, and authentication checked before TYPE.
 *
 * @module
 */
import assert from "node:assert/strict";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";

/** One control connection: sends lines, reads reply lines. */
async function control(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const decoder = new TextDecoder();
  let pending = "";
  const buffer = new Uint8Array(4096);
  const line = async (): Promise<string> => {
    for (let i = 0; i < 100 && !pending.includes("\r\n"); i++) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error(`Connection closed; got ${pending}`);
      pending += decoder.decode(buffer.subarray(0, n));
    }
    const at = pending.indexOf("\r\n");
    const out = pending.slice(0, at);
    pending = pending.slice(at + 2);
    return out;
  };
  /** The final line of a (possibly multi-line) reply. */
  const reply = async (): Promise<string> => {
    for (let i = 0; i < 50; i++) {
      const l = await line();
      if (/^\d{3} /.test(l)) return l;
    }
    throw new Error("No final reply line");
  };
  const send = async (text: string) => {
    await conn.write(new TextEncoder().encode(`${text}\r\n`));
    return await reply();
  };
  return { reply, send, close: () => conn.close() };
}

Deno.test("ftp - TYPE answers 200 for I and A, 501 otherwise, and 530 before login", async () => {
  await using fx = await startTestHub({ env: { FTP_REQUIRE_TLS: "false" } });
  const c = await control(listenerPort(fx.hub, "ftp"));
  try {
    assert.match(await c.reply(), /^220 /);
    assert.match(await c.send("TYPE I"), /^530 /);
    assert.match(await c.send(`USER ${TEST_SECRETS.ftpUser}`), /^331 /);
    assert.match(await c.send(`PASS ${TEST_SECRETS.ftpPassword}`), /^230 /);
    assert.equal(await c.send("TYPE I"), '200 Switch to "binary" transfer mode.');
    assert.equal(await c.send("TYPE A"), '200 Switch to "ascii" transfer mode.');
    assert.match(await c.send("TYPE Q"), /^501 /);
    assert.match(await c.send("NOOP"), /^200 /);
  } finally {
    c.close();
  }
});
