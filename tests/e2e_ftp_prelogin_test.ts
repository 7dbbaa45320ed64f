/**
 * Issue 15 on the FTP control channel: clients that never log in are
 * bounded (line cap, no echo, memory returned), framed (a command split
 * across writes runs once, whole), held to a login deadline and a pre-login
 * share of the connection limit; a missing temporary folder is a reply, not
 * a hang. Every hostile client speaks over a real socket (from 127.0.0.2 or
 * 127.0.0.3 where per-address limits matter) and a legitimate client is
 * served afterwards; memory is read from /proc (VmRSS).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listenerPort, REPO_ROOT, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { loginSteps, runFtpClient } from "./helpers/ftp_clients.ts";
import { SourceClient } from "./helpers/source_client.ts";
import { assertMemoryBound, measureMemory } from "./helpers/memory_bound.ts";
import { floodFtpControl, startChildHub } from "../bench/prelogin_flood.ts";
import { openDatabase } from "../persistence/database.ts";
import { queryAudit } from "../persistence/audit_store.ts";

const PLAIN = { FTP_REQUIRE_TLS: "false", FTP_PASV_MIN: "0", FTP_PASV_MAX: "0" };
const TLS = { FTP_PASV_MIN: "0", FTP_PASV_MAX: "0" };
const { ftpUser, ftpPassword } = TEST_SECRETS;

/** A real FTPS client (Python ftplib) logs in and lists: the listener still serves. */
async function servesFtps(port: number): Promise<void> {
  const results = await runFtpClient(port, [
    ...loginSteps(ftpUser, ftpPassword, true),
    { op: "list" },
    { op: "quit" },
  ]);
  assert.deepEqual(results.map((r) => r.code), [220, 230, 226, 221], JSON.stringify(results));
}

/** Connects from `source`, upgrades to TLS and logs in as the seed user. */
async function ftpsLogin(source: string, port: number, ca: string): Promise<SourceClient> {
  const c = await SourceClient.connect(source, port);
  assert.match((await c.readReply())!, /^220 /m);
  assert.match((await c.command("AUTH TLS"))!, /^234 /);
  await c.startTls(ca);
  assert.match((await c.command(`USER ${ftpUser}`))!, /^331 /);
  assert.match((await c.command(`PASS ${ftpPassword}`))!, /^230 /);
  return c;
}

Deno.test("ftp prelogin - 4 x 32 MiB without CRLF get one short 500 each, the hub's VmRSS stays flat and an FTPS client is served", async () => {
  // The hub runs as `deno run main.ts`; its memory is its own /proc/<pid>/status VmRSS.
  await using hub = await startChildHub(REPO_ROOT);
  const report = await floodFtpControl(hub, { connections: 4, bytes: 32 * 1024 * 1024 });
  for (let i = 0; i < 4; i++) {
    const lines = report.replies[i]!.split("\r\n").filter((l) => l !== "");
    // The greeting, then exactly one 500, nothing echoed, and the hub closed the connection.
    assert.deepEqual(lines.slice(2), ["500 Command line longer than 4096 bytes: closing"]);
    assert.ok(report.received[i]! < 200, `received ${report.received[i]} bytes`);
    assert.ok(report.sent[i]! < 32 * 1024 * 1024, "the hub closed before taking everything");
  }
  assertMemoryBound(
    { beforeKiB: report.rssBeforeKiB, peakKiB: report.rssPeakKiB, afterKiB: report.rssAfterKiB },
    48,
    "hub VmRSS during the flood",
  );
  await servesFtps(hub.ports.ftp);
});

Deno.test("ftp prelogin - a line at the cap is one command, one byte more is 500 and close, before and after login", async () => {
  await using fx = await startTestHub({ env: { ...PLAIN, FTP_MAX_LINE_BYTES: "64" } });
  const port = listenerPort(fx.hub, "ftp");
  const { figures } = await measureMemory(async () => {
    await using before = await SourceClient.connect("127.0.0.2", port);
    await before.readReply();
    // 64 bytes exactly: an unknown command, answered with a short prefix only.
    const unknown = `X${"Y".repeat(63)}`;
    assert.equal(await before.command(unknown), "502 Command not recognised: XYYYYYYYYYYYYYYY...");
    assert.equal(
      await before.command(`${unknown}Z`),
      "500 Command line longer than 64 bytes: closing",
    );
    assert.equal(await before.readToEnd(), "");
    assert.ok(before.ended);

    await using after = await SourceClient.connect("127.0.0.3", port);
    await after.readReply();
    assert.match((await after.command(`USER ${ftpUser}`))!, /^331 /);
    assert.match((await after.command(`PASS ${ftpPassword}`))!, /^230 /);
    assert.match((await after.command("A".repeat(100)))!, /^500 Command line longer than 64/);
    await after.readToEnd();
    assert.ok(after.ended);
  });
  assertMemoryBound(figures, 32, "test process VmRSS");
  assert.equal(fx.hub.listeners.get("ftp")!.metrics().lines_too_long_total, 2);
  const results = await runFtpClient(port, [...loginSteps(ftpUser, ftpPassword), { op: "list" }]);
  assert.deepEqual(results.map((r) => r.code), [220, 230, 226]);
});

Deno.test("ftp prelogin - DELE photo split from -2024.jpg over FTPS deletes photo-2024.jpg only", async () => {
  await using fx = await startTestHub({ env: TLS });
  const port = listenerPort(fx.hub, "ftp");
  const ca = await Deno.readTextFile(fx.env.SSL_CERT!);
  const uploads = join(fx.dir, "uploads");
  const { figures } = await measureMemory(async () => {
    await Deno.writeTextFile(join(uploads, "photo"), "keep me");
    await Deno.writeTextFile(join(uploads, "photo-2024.jpg"), "delete me");
    await using c = await ftpsLogin("127.0.0.2", port, ca);
    // Two writes, each a TLS record of its own; the first has no CRLF.
    assert.ok(await c.write("DELE photo"));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(await c.write("-2024.jpg\r\n"));
    assert.equal(await c.readReply(), '250 Done: "/photo-2024.jpg"');
    // A command split into single bytes is one command too.
    for (const byte of "NOOP\r\n") assert.ok(await c.write(byte));
    assert.match((await c.readReply())!, /^200 /);
  });
  assertMemoryBound(figures, 32, "test process VmRSS");
  assert.equal(await Deno.readTextFile(join(uploads, "photo")), "keep me");
  await assert.rejects(Deno.stat(join(uploads, "photo-2024.jpg")), Deno.errors.NotFound);
  await servesFtps(port);
});

Deno.test("ftp prelogin - plaintext pipelined behind AUTH TLS is dropped, never run inside the TLS session", async () => {
  await using fx = await startTestHub({ env: TLS });
  const port = listenerPort(fx.hub, "ftp");
  const ca = await Deno.readTextFile(fx.env.SSL_CERT!);
  await Deno.writeTextFile(join(fx.dir, "uploads", "victim"), "x");
  await using c = await SourceClient.connect("127.0.0.2", port);
  await c.readReply();
  await c.write(`AUTH TLS\r\nUSER ${ftpUser}\r\nPASS ${ftpPassword}\r\nDELE victim\r\n`);
  assert.match((await c.readReply())!, /^234 /);
  await c.startTls(ca);
  // The injected USER/PASS did not log this session in.
  assert.match((await c.command("PWD"))!, /^530 /);
  assert.ok((await Deno.stat(join(fx.dir, "uploads", "victim"))).isFile);
  await servesFtps(port);
});

Deno.test("ftp prelogin - NOOP keep-alives do not extend the login deadline: 421 and closed", async () => {
  await using fx = await startTestHub({ env: { ...TLS, FTP_LOGIN_TIMEOUT_MS: "600" } });
  const port = listenerPort(fx.hub, "ftp");
  const { figures } = await measureMemory(async () => {
    await using c = await SourceClient.connect("127.0.0.2", port);
    await c.readReply();
    let last: string | undefined = "";
    // Bounded: the deadline is 600 ms; 200 NOOPs 20 ms apart would take 4 s.
    for (let i = 0; i < 200; i++) {
      last = await c.command("NOOP");
      if (last === undefined || !last.startsWith("200 ")) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(last, "421 No login within 600 ms: closing");
    await c.readToEnd();
    assert.ok(c.ended);
  });
  assertMemoryBound(figures, 32, "test process VmRSS");
  assert.equal(fx.hub.listeners.get("ftp")!.metrics().prelogin_deadline_closed_total, 1);
  await servesFtps(port);
});

Deno.test("ftp prelogin - never-logging-in clients hold only their share: a real FTPS login still gets in", async () => {
  await using fx = await startTestHub({
    env: {
      ...TLS,
      FTP_MAX_CONNECTIONS: "8",
      FTP_MAX_CONNECTIONS_PER_IP: "8",
      FTP_PRELOGIN_MAX_CONNECTIONS: "4",
      FTP_PRELOGIN_MAX_CONNECTIONS_PER_IP: "2",
    },
  });
  const port = listenerPort(fx.hub, "ftp");
  const ca = await Deno.readTextFile(fx.env.SSL_CERT!);
  const idle: SourceClient[] = [];
  try {
    const { figures } = await measureMemory(async () => {
      for (const source of ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"]) {
        const c = await SourceClient.connect(source, port);
        assert.match((await c.readReply())!, /^220 /m);
        assert.match((await c.command("NOOP"))!, /^200 /);
        idle.push(c);
      }
      // A third from 127.0.0.2 is over its address's share.
      await using third = await SourceClient.connect("127.0.0.2", port);
      assert.match(
        (await third.readLine())!,
        /^421 Too many connections from your address waiting to log in \(2\)/,
      );
      // Logged-in users fill the rest of the limit; each newcomer makes room by closing the
      // oldest connection that never logged in.
      const users: SourceClient[] = [];
      try {
        for (let i = 0; i < 5; i++) users.push(await ftpsLogin("127.0.0.1", port, ca));
        for (const u of users) assert.match((await u.command("PWD"))!, /^257 /);
      } finally {
        for (const u of users) await u[Symbol.asyncDispose]();
      }
    });
    assertMemoryBound(figures, 48, "test process VmRSS");
    const oldest = await idle[0]!.readToEnd();
    assert.match(oldest, /421 Too many connections waiting to log in: closing the oldest/);
    const metrics = fx.hub.listeners.get("ftp")!.metrics();
    assert.ok(metrics.prelogin_evicted_total! >= 1);
    assert.equal(metrics.prelogin_refused_total, 1);
    assert.ok(metrics.prelogin_connections! <= 4);
  } finally {
    for (const c of idle) await c[Symbol.asyncDispose]();
  }
  await servesFtps(port);
});

Deno.test("ftp prelogin - /metrics counts the pre-login share of the FTP and TLS listeners", async () => {
  await using fx = await startTestHub({ env: TLS });
  await using c = await SourceClient.connect("127.0.0.2", listenerPort(fx.hub, "ftp"));
  await c.readReply();
  const text = await (await fetch(`http://127.0.0.1:${listenerPort(fx.hub, "http")}/metrics`))
    .text();
  assert.match(text, /hub_ftp_prelogin_connections(\{[^}]*\})? 1\n/);
  assert.match(text, /hub_ftp_prelogin_connections_limit(\{[^}]*\})? 16\n/);
  assert.match(text, /hub_tls_prelogin_connections_limit(\{[^}]*\})? 256\n/);
});

Deno.test("ftp prelogin - a removed .hub-partial folder is recreated; when it cannot be, STOR gets 451 and an audited refusal", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  const port = listenerPort(fx.hub, "ftp");
  const partial = join(fx.dir, "uploads", ".hub-partial");
  await Deno.remove(partial, { recursive: true });
  const up = (name: string) =>
    runFtpClient(port, [...loginSteps(ftpUser, ftpPassword), {
      op: "stor",
      path: name,
      size: 10_000,
    }]);
  const recreated = await up("first.bin");
  assert.equal(recreated[2]!.code, 226, JSON.stringify(recreated));
  assert.ok((await Deno.stat(partial)).isDirectory);
  // A file where the folder should be: it cannot be recreated.
  await Deno.remove(partial, { recursive: true });
  await Deno.writeTextFile(partial, "in the way");
  const refused = await up("second.bin");
  assert.equal(refused[2]!.code, 451, JSON.stringify(refused));
  assert.match(refused[2]!.text!, /Nothing stored: Could not open the upload's temporary file/);
  await assert.rejects(Deno.stat(join(fx.dir, "uploads", "second.bin")), Deno.errors.NotFound);
  await fx.hub.broker.settled();
  const db = openDatabase(fx.hub.config.paths.database, { readOnly: true });
  try {
    const entries = queryAudit(db).filter((e) => e.action === "ftp.stor");
    assert.deepEqual(entries.map((e) => [e.outcome, e.code]), [["ok", null], [
      "rejected",
      "internal",
    ]]);
  } finally {
    db.close();
  }
  await Deno.remove(partial);
  const again = await up("third.bin");
  assert.equal(again[2]!.code, 226, JSON.stringify(again));
});
