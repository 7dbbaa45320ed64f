/**
 * End-to-end tests of the FTP server with Python's ftplib over plain FTP
 * (TLS not required here; FTPS has its own file): the seed's flows, path
 * confinement for every operation, permissions per user, quotas, atomic
 * uploads and the camera snapshot path.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import {
  type FtpStep,
  loginSteps,
  runFtpClient,
  sha256File,
  whenHandled,
} from "./helpers/ftp_clients.ts";
import { createMessage } from "../broker/envelope.ts";
import { PARTIAL_FOLDER } from "../domain/storage_paths.ts";

const PLAIN = {
  FTP_REQUIRE_TLS: "false",
  FTP_PASV_MIN: "0",
  FTP_PASV_MAX: "0",
  FTP_LOGIN_FAILURE_DELAY_MS: "0",
};
const SEED = loginSteps(TEST_SECRETS.ftpUser, TEST_SECRETS.ftpPassword);

Deno.test("ftp - the seed user uploads, lists, downloads byte-identical, renames, deletes, makes and removes folders", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  const port = listenerPort(fx.hub, "ftp");
  const r = await runFtpClient(port, [
    ...SEED,
    { op: "stor", path: "photo.bin", size: 300_000, seed: 5 },
    { op: "nlst" },
    { op: "list" },
    { op: "retr", path: "photo.bin" },
    { op: "cmd", line: "MKD albums" },
    { op: "cmd", line: "RNFR photo.bin" },
    { op: "cmd", line: "RNTO albums/renamed.bin" },
    { op: "cmd", line: "CWD albums" },
    { op: "cmd", line: "SIZE renamed.bin" },
    { op: "cmd", line: "DELE renamed.bin" },
    { op: "cmd", line: "CDUP" },
    { op: "cmd", line: "RMD albums" },
    { op: "nlst" },
    { op: "quit" },
  ]);
  assert.equal(r[1]!.code, 230);
  assert.equal(r[2]!.code, 226);
  assert.ok(r[3]!.lines!.includes("photo.bin"));
  assert.match(r[4]!.lines!.find((l) => l.endsWith(" photo.bin"))!, /^-rw-r--r-- .* 300000 /);
  assert.equal(r[5]!.code, 226);
  assert.equal(r[5]!.size, 300_000);
  assert.equal(r[5]!.sha256, r[2]!.sha256);
  assert.deepEqual(r.slice(6, 14).map((x) => x.code), [257, 350, 250, 250, 213, 250, 250, 250]);
  assert.equal(r[10]!.text, "213 300000");
  assert.ok(!r[14]!.lines!.includes("photo.bin") && !r[14]!.lines!.includes("albums"));
  const uploads = join(fx.dir, "uploads");
  await assert.rejects(Deno.stat(join(uploads, "albums")));
});

Deno.test("ftp - a stored file is in the file index with its SHA-256 and announced on the broker", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  const stored: unknown[] = [];
  const stop = fx.hub.broker.subscribe(["storage.file_stored"], (m) => stored.push(m.payload));
  const r = await runFtpClient(listenerPort(fx.hub, "ftp"), [
    ...SEED,
    { op: "stor", path: "doc.bin", size: 70_000, seed: 9 },
  ]);
  stop();
  assert.equal(r[2]!.code, 226);
  const onDisk = await sha256File(join(fx.dir, "uploads", "doc.bin"));
  assert.equal(onDisk, r[2]!.sha256);
  assert.equal(stored.length, 1);
  assert.deepEqual(
    { ...(stored[0] as Record<string, unknown>), storedAt: "" },
    {
      path: "doc.bin",
      virtualPath: "/doc.bin",
      owner: "user",
      size: 70_000,
      sha256: onDisk,
      storedAt: "",
    },
  );
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(join(fx.dir, "data", "hub.db"), { readOnly: true });
  const row = db.prepare("SELECT owner, size, sha256 FROM file_index WHERE path = 'doc.bin'").get();
  db.close();
  assert.deepEqual({ ...row }, { owner: "user", size: 70_000, sha256: onDisk });
});

Deno.test("ftp - an upload cut off halfway leaves no file under its name and no temporary file", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  const aborted = whenHandled(fx.hub.broker, "storage.abort_upload");
  await runFtpClient(listenerPort(fx.hub, "ftp"), [
    ...SEED,
    { op: "stor_cut", path: "cut.bin", size: 4_000_000 },
  ]);
  await aborted;
  const uploads = join(fx.dir, "uploads");
  await assert.rejects(Deno.stat(join(uploads, "cut.bin")));
  const partial = [...Deno.readDirSync(join(uploads, PARTIAL_FOLDER))];
  assert.deepEqual(partial, []);
});

Deno.test("ftp - anonymous and wrong passwords are refused, and repeated failures ban the address", async () => {
  await using fx = await startTestHub({ env: { ...PLAIN, FTP_MAX_LOGIN_FAILURES: "3" } });
  const port = listenerPort(fx.hub, "ftp");
  const r = await runFtpClient(port, [
    { op: "connect" },
    { op: "login", user: "anonymous", password: "guest@example.com" },
  ]);
  assert.equal(r[1]!.code, 530);
  assert.match(r[1]!.text!, /Anonymous login is not allowed/);
  const wrong = await runFtpClient(port, [
    { op: "connect" },
    { op: "login", user: "user", password: "nope" },
  ]);
  assert.equal(wrong[1]!.code, 530);
  assert.match(wrong[1]!.text!, /Login incorrect/);
  // Third failure from this address: banned, even with the right password afterwards.
  await runFtpClient(port, [{ op: "connect" }, { op: "login", user: "user", password: "x" }]);
  const banned = await runFtpClient(port, [{ op: "connect" }]);
  assert.equal(banned[0]!.code, 421);
  assert.match(banned[0]!.text!, /Too many failed logins/);
});

Deno.test("ftp - active mode is off by default and EPSV works", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  const r = await runFtpClient(listenerPort(fx.hub, "ftp"), [
    ...SEED,
    { op: "cmd", line: "PORT 127,0,0,1,200,10" },
    { op: "cmd", line: "EPRT |1|127.0.0.1|51210|" },
    { op: "cmd", line: "EPSV" },
  ]);
  assert.equal(r[2]!.code, 502);
  assert.equal(r[3]!.code, 502);
  assert.equal(r[4]!.code, 229);
  assert.match(r[4]!.text!, /\(\|\|\|\d+\|\)/);
});

Deno.test("ftp - no path trick escapes the home, for any operation", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  const uploads = join(fx.dir, "uploads");
  const evil = join(fx.dir, "uploads-evil");
  Deno.mkdirSync(evil);
  Deno.writeTextFileSync(join(evil, "secret.txt"), "secret");
  Deno.writeTextFileSync(join(fx.dir, "outside.txt"), "outside");
  Deno.symlinkSync(evil, join(uploads, "link-dir"));
  Deno.symlinkSync(join(fx.dir, "outside.txt"), join(uploads, "link-file"));
  Deno.symlinkSync(join(fx.dir, "nowhere"), join(uploads, "link-dangling"));
  Deno.writeTextFileSync(join(uploads, "inside.txt"), "inside");
  const tricks = [
    "../outside.txt",
    "/../outside.txt",
    "../uploads-evil/secret.txt",
    "/../uploads-evil/secret.txt",
    "%2e%2e/outside.txt",
    "%2e%2e%2foutside.txt",
    "%252e%252e/outside.txt",
    "..\\outside.txt",
    "link-dir/secret.txt",
    "link-file",
    "link-dangling",
    "link-dangling/x",
    `${PARTIAL_FOLDER}/x`,
  ];
  const steps: FtpStep[] = [...SEED];
  const expect: string[] = [];
  for (const trick of tricks) {
    steps.push(
      { op: "retr", path: trick },
      { op: "stor", path: trick, size: 10 },
      { op: "appe", path: trick, size: 10 },
      { op: "list", path: trick },
      { op: "cmd", line: `DELE ${trick}` },
      { op: "cmd", line: `RMD ${trick}` },
      { op: "cmd", line: `MKD ${trick}` },
      { op: "cmd", line: `CWD ${trick}` },
      { op: "cmd", line: `SIZE ${trick}` },
      { op: "cmd", line: `MDTM ${trick}` },
      { op: "cmd", line: `RNFR ${trick}` },
      { op: "cmd", line: "RNFR inside.txt" },
      { op: "cmd", line: `RNTO ${trick}` },
    );
    for (
      const op of [
        "RETR",
        "STOR",
        "APPE",
        "LIST",
        "DELE",
        "RMD",
        "MKD",
        "CWD",
        "SIZE",
        "MDTM",
        "RNFR",
      ]
    ) {
      expect.push(`${op} ${trick}`);
    }
    expect.push("RNFR inside.txt", `RNTO ${trick}`);
  }
  steps.push({ op: "nlst" });
  const r = await runFtpClient(listenerPort(fx.hub, "ftp"), steps);
  assert.equal(r.slice(2, -1).length, expect.length, "the client ran every step");
  r.slice(2, -1).forEach((result, i) => {
    if (expect[i] === "RNFR inside.txt") assert.equal(result.code, 350);
    else assert.ok(result.code >= 500, `${expect[i]} was allowed: ${result.code} ${result.text}`);
  });
  // Links that point out are not even listed; nothing outside changed.
  const names = r.at(-1)!.lines!;
  assert.ok(!names.includes("link-dir") && !names.includes("link-file"), names.join(","));
  assert.ok(names.includes("inside.txt"));
  assert.equal(Deno.readTextFileSync(join(evil, "secret.txt")), "secret");
  assert.equal(Deno.readTextFileSync(join(fx.dir, "outside.txt")), "outside");
  assert.deepEqual([...Deno.readDirSync(evil)].map((e) => e.name), ["secret.txt"]);
  await assert.rejects(Deno.stat(join(fx.dir, "nowhere")));
});

Deno.test("ftp - a store-only camera cannot list or delete, and its upload updates the camera's state", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  const port = listenerPort(fx.hub, "ftp");
  const snapshot = whenHandled(fx.hub.broker, "device.snapshot_stored");
  const r = await runFtpClient(port, [
    ...loginSteps("porch-camera", TEST_SECRETS.password("porch-camera")),
    { op: "cmd", line: "CWD /" },
    { op: "stor", path: "snap.jpg", size: 50_000, seed: 11 },
    { op: "nlst" },
    { op: "retr", path: "snap.jpg" },
    { op: "cmd", line: "DELE snap.jpg" },
    { op: "cmd", line: "MKD x" },
  ]);
  assert.equal(r[1]!.code, 230);
  assert.equal(r[2]!.code, 250);
  assert.equal(r[3]!.code, 226);
  for (const refused of r.slice(4)) assert.equal(refused.code, 550, refused.text);
  assert.match(r[4]!.text!, /Permission denied/);
  await snapshot;
  const day = new Date().toISOString().slice(0, 10);
  const relative = `cameras/porch/${day}/snap.jpg`;
  assert.equal(await sha256File(join(fx.dir, "uploads", relative)), r[3]!.sha256);
  const query = await fx.hub.broker.ask(
    createMessage("device.query", { device: "porch-camera" }, {
      principal: "admin",
      channel: "cli",
    }),
    { timeoutMs: 5000 },
  );
  assert.ok(query.ok && query.reply.payload.ok);
  const state = query.reply.payload.value[0]!.state;
  assert.equal(state.lastSnapshot, relative);
  assert.equal(state.snapshotSha256, r[3]!.sha256);
  assert.equal(state.snapshotSize, 50_000);
});

Deno.test("ftp - a read-only user can list and download but not store, delete or rename", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  Deno.writeTextFileSync(join(fx.dir, "uploads", "firmware", "fw-1.2.bin"), "firmware image");
  const r = await runFtpClient(listenerPort(fx.hub, "ftp"), [
    ...loginSteps("firmware", TEST_SECRETS.password("firmware")),
    { op: "nlst" },
    { op: "retr", path: "fw-1.2.bin" },
    { op: "stor", path: "evil.bin", size: 10 },
    { op: "cmd", line: "DELE fw-1.2.bin" },
    { op: "cmd", line: "RNFR fw-1.2.bin" },
    { op: "cmd", line: "MKD x" },
    { op: "cmd", line: "CWD .." },
  ]);
  assert.deepEqual(r[2]!.lines, ["fw-1.2.bin"]);
  assert.equal(r[3]!.size, "firmware image".length);
  for (const refused of r.slice(4)) assert.equal(refused.code, 550, refused.text);
  await assert.rejects(Deno.stat(join(fx.dir, "uploads", "firmware", "evil.bin")));
});

Deno.test("ftp - a full quota or a file over the size limit gets 552 and leaves nothing partial", async () => {
  const home = JSON.parse(
    Deno.readTextFileSync(new URL("../config/demo_home.json", import.meta.url)),
  );
  home.principals.push({
    id: "small",
    kind: "ftp_user",
    channels: ["ftp"],
    ftp: { home: "small", permissions: "elrw", quotaBytes: 100_000, quotaFiles: 2 },
  });
  await using fx = await startTestHub({ env: { ...PLAIN, FTP_MAX_FILE_BYTES: "150000" }, home });
  const port = listenerPort(fx.hub, "ftp");
  const r = await runFtpClient(port, [
    ...loginSteps("small", TEST_SECRETS.password("small")),
    { op: "stor", path: "a.bin", size: 60_000 },
    { op: "stor", path: "b.bin", size: 60_000 },
    { op: "stor", path: "c.bin", size: 10 },
    { op: "stor", path: "d.bin", size: 10 },
    { op: "nlst" },
  ]);
  assert.equal(r[2]!.code, 226);
  assert.equal(r[3]!.code, 552, r[3]!.text); // bytes quota, found during the transfer
  assert.equal(r[4]!.code, 226);
  assert.equal(r[5]!.code, 552, r[5]!.text); // files quota, refused before the transfer
  assert.match(r[5]!.text!, /File quota reached/);
  assert.deepEqual(r[6]!.lines, ["a.bin", "c.bin"]);
  const seed = await runFtpClient(port, [...SEED, { op: "stor", path: "big.bin", size: 200_000 }]);
  assert.equal(seed[2]!.code, 552, seed[2]!.text);
  await assert.rejects(Deno.stat(join(fx.dir, "uploads", "big.bin")));
  await assert.rejects(Deno.stat(join(fx.dir, "uploads", "small", "b.bin")));
  assert.deepEqual([...Deno.readDirSync(join(fx.dir, "uploads", PARTIAL_FOLDER))], []);
});

Deno.test("ftp - every operation is in the audit log", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  await runFtpClient(listenerPort(fx.hub, "ftp"), [
    ...SEED,
    { op: "stor", path: "a.bin", size: 10 },
    { op: "retr", path: "a.bin" },
    { op: "cmd", line: "DELE a.bin" },
    { op: "cmd", line: "DELE ../x" },
  ]);
  await fx.hub.broker.settled();
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(join(fx.dir, "data", "hub.db"), { readOnly: true });
  const rows = db.prepare(
    "SELECT action, outcome, principal FROM audit_log WHERE action LIKE 'ftp.%' ORDER BY seq",
  ).all().map((row) => `${row.action}:${row.outcome}:${row.principal}`);
  db.close();
  assert.deepEqual(rows, [
    "ftp.login:ok:user",
    "ftp.stor:ok:user",
    "ftp.retr:ok:user",
    "ftp.dele:ok:user",
    "ftp.dele:rejected:user",
  ]);
});

Deno.test("ftp - commands that name no path get 501 and leave the working folder alone", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  const port = listenerPort(fx.hub, "ftp");
  const r = await runFtpClient(port, [
    ...SEED,
    { op: "cmd", line: "MKD keep" },
    { op: "cmd", line: "CWD keep" },
    { op: "cmd", line: "RMD" },
    { op: "cmd", line: "RMD -x" },
    { op: "cmd", line: "RNFR" },
    { op: "cmd", line: "DELE" },
    { op: "cmd", line: "CWD /" },
    { op: "list" },
  ]);
  assert.deepEqual(r.slice(4, 8).map((s) => s.code), [501, 501, 501, 501], JSON.stringify(r));
  assert.ok((await Deno.stat(join(fx.env.UPLOAD_FOLDER!, "keep"))).isDirectory);
});

Deno.test("ftp - APPE extends a file atomically and the index holds the SHA-256 of the whole file", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  const r = await runFtpClient(listenerPort(fx.hub, "ftp"), [
    ...SEED,
    { op: "stor", path: "log.bin", size: 600_000, seed: 3 },
    { op: "appe", path: "log.bin", size: 400_000, seed: 4 },
  ]);
  assert.equal(r[2]!.code, 226, JSON.stringify(r));
  assert.equal(r[3]!.code, 226, JSON.stringify(r));
  const path = join(fx.dir, "uploads", "log.bin");
  assert.equal((await Deno.stat(path)).size, 1_000_000);
  const onDisk = await sha256File(path);
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(join(fx.dir, "data", "hub.db"), { readOnly: true });
  const row = db.prepare("SELECT size, sha256 FROM file_index WHERE path = 'log.bin'").get();
  db.close();
  assert.deepEqual({ ...row }, { size: 1_000_000, sha256: onDisk });
});

Deno.test("ftp - a temporary folder removed under a running hub is made again and the upload is stored", async () => {
  await using fx = await startTestHub({ env: PLAIN });
  await Deno.remove(join(fx.dir, "uploads", PARTIAL_FOLDER), { recursive: true });
  const r = await runFtpClient(listenerPort(fx.hub, "ftp"), [
    ...SEED,
    { op: "stor", path: "after.bin", size: 4096, seed: 3 },
  ]);
  assert.equal(r[2]!.code, 226, JSON.stringify(r[2]));
  assert.equal(await sha256File(join(fx.dir, "uploads", "after.bin")), r[2]!.sha256);
  assert.deepEqual([...Deno.readDirSync(join(fx.dir, "uploads", PARTIAL_FOLDER))], []);
});
