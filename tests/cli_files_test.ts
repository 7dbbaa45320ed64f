import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type HubFixture,
  listenerPort,
  REPO_ROOT,
  startTestHub,
  TEST_SECRETS,
} from "./helpers/hub_fixture.ts";
import { ProgressBar } from "../client/progress_bar.ts";
import { FtpClient, parseListDate } from "../client/ftp_client.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** Runs `cli.ts files ...` in its own process with the `deno task cli` permissions. */
async function files(
  fixture: HubFixture,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      join(REPO_ROOT, "client", "cli.ts"),
      "files",
      ...args,
      "--port",
      String(listenerPort(fixture.hub, "ftp")),
      "--ca",
      fixture.env.SSL_CERT!,
    ],
    env: { NO_COLOR: "1", FTP_PASSWORD: TEST_SECRETS.ftpPassword, ...options.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: result.code, out: decode(result.stdout), err: decode(result.stderr) };
}

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const block = new Uint8Array(65536);
    for (let written = 0; written < bytes; written += block.length) {
      crypto.getRandomValues(block);
      const part = block.subarray(0, Math.min(block.length, bytes - written));
      let offset = 0;
      while (offset < part.length) offset += await file.write(part.subarray(offset));
    }
  } finally {
    file.close();
  }
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The user on the command line; its password comes from FTP_PASSWORD (never from argv). */
const userLogin = ["--user", TEST_SECRETS.ftpUser];

Deno.test("cli files put shows progress, list shows the size, get returns identical bytes", async () => {
  await using fixture = await startTestHub();
  const local = await Deno.makeTempDir({ prefix: "cli_files_" });
  try {
    const size = 3 * 1024 * 1024 + 123;
    const source = join(local, "big.bin");
    await writeRandomFile(source, size);

    const put = await files(fixture, ["put", source, "big.bin", "--progress", ...userLogin]);
    assert.equal(put.code, 0, put.err);
    const progressLines = put.err.trimEnd().split("\n");
    assert.ok(progressLines.length >= 1, put.err);
    assert.match(progressLines.at(-1)!, /\[#{24}\]\s+100%\s+3\.0 MiB \/ 3\.0 MiB\s+\S+ \S*B\/s$/);
    assert.ok(put.err.endsWith("\n"));
    assert.match(put.out, new RegExp(`^Uploaded .*big\\.bin → big\\.bin: ${size} bytes in `));
    const stored = await Deno.stat(join(fixture.env.UPLOAD_FOLDER!, "big.bin"));
    assert.equal(stored.size, size);

    const listed = await files(fixture, ["list", ...userLogin]);
    assert.equal(listed.code, 0, listed.err);
    assert.match(
      listed.out,
      /^file\s+3\.0 MiB\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}\s+big\.bin$/m,
    );
    const json = await files(fixture, ["list", "/", "--json", ...userLogin]);
    assert.equal(json.code, 0, json.err);
    const entries = json.out.trim().split("\n").map((l) => JSON.parse(l));
    const entry = entries.find((e) => e.name === "big.bin");
    assert.deepEqual({ type: entry.type, size: entry.size }, { type: "file", size });
    assert.ok(Math.abs(Date.parse(entry.modified) - Date.now()) < 3_600_000, entry.modified);

    const target = join(local, "copy.bin");
    const get = await files(fixture, ["get", "/big.bin", target, ...userLogin]);
    assert.equal(get.code, 0, get.err);
    assert.equal(get.err, "", "no progress bar without --progress when stderr is a pipe");
    assert.equal(await sha256(target), await sha256(source));
    const leftovers = [...Deno.readDirSync(local)].map((e) => e.name).sort();
    assert.deepEqual(leftovers, ["big.bin", "copy.bin"]);
  } finally {
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("cli files get takes a relative local path from INIT_CWD and leaves nothing on a 550", async () => {
  await using fixture = await startTestHub();
  const local = await Deno.makeTempDir({ prefix: "cli_files_" });
  try {
    await Deno.writeTextFile(join(fixture.env.UPLOAD_FOLDER!, "note.txt"), "hello\n");
    // Relative local paths are taken from INIT_CWD (the folder `deno task` was started in).
    const result = await files(fixture, ["get", "note.txt", ...userLogin], {
      cwd: REPO_ROOT,
      env: { INIT_CWD: local },
    });
    assert.equal(result.code, 0, result.err);
    assert.equal(await Deno.readTextFile(join(local, "note.txt")), "hello\n");
    const intoFolder = await files(fixture, [
      "put",
      join(local, "note.txt"),
      "firmware/",
      ...userLogin,
    ]);
    assert.equal(intoFolder.code, 0, intoFolder.err);
    assert.equal(
      await Deno.readTextFile(join(fixture.env.UPLOAD_FOLDER!, "firmware", "note.txt")),
      "hello\n",
    );

    const missing = await files(fixture, [
      "get",
      "absent.txt",
      join(local, "absent.txt"),
      ...userLogin,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^Download failed: 550 /m);
    assert.deepEqual([...Deno.readDirSync(local)].map((e) => e.name), ["note.txt"]);
  } finally {
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("cli files with a wrong password exits 1 with the 530 reply", async () => {
  await using fixture = await startTestHub({ env: { FTP_LOGIN_FAILURE_DELAY_MS: "0" } });
  const wrong = await files(fixture, ["list", "--user", "user"], {
    env: { FTP_PASSWORD: "not-the-password" },
  });
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /^Cannot open an FTP session as user at 127\.0\.0\.1:\d+: 530 /);
  assert.equal(wrong.out, "");
});

Deno.test("cli files put as the read-only firmware principal shows the server's refusal", async () => {
  await using fixture = await startTestHub();
  const local = await Deno.makeTempDir({ prefix: "cli_files_" });
  try {
    const source = join(local, "fw.bin");
    await writeRandomFile(source, 4096);
    const passwordFile = join(local, "firmware.password");
    await Deno.writeTextFile(passwordFile, TEST_SECRETS.password("firmware") + "\n", {
      mode: 0o600,
    });
    const refused = await files(fixture, [
      "put",
      source,
      "--user",
      "firmware",
      "--password-file",
      passwordFile,
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^Upload failed: 550 Permission denied \(.*\)$/m);
    const stored = [...Deno.readDirSync(fixture.env.UPLOAD_FOLDER!)].map((e) => e.name);
    for (const name of stored) assert.notEqual(name, "fw.bin");
  } finally {
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("cli files put over the size limit reports 552 and stores nothing", async () => {
  await using fixture = await startTestHub({ env: { FTP_MAX_FILE_BYTES: "1048576" } });
  const local = await Deno.makeTempDir({ prefix: "cli_files_" });
  try {
    const source = join(local, "too_big.bin");
    await writeRandomFile(source, 4 * 1024 * 1024);
    const refused = await files(fixture, ["put", source, ...userLogin]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^Upload failed: 552 /m);
    await assert.rejects(Deno.stat(join(fixture.env.UPLOAD_FOLDER!, "too_big.bin")));
  } finally {
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("cli files --insecure-plain is refused by a hub that requires TLS", async () => {
  await using fixture = await startTestHub({ env: { FTP_LOGIN_FAILURE_DELAY_MS: "0" } });
  const plain = await files(fixture, ["list", "--insecure-plain", ...userLogin]);
  assert.equal(plain.code, 1);
  assert.match(plain.err, /530 TLS required/);
});

Deno.test("FtpClient lists, sizes, and uploads in plain FTP only when asked, and closes cleanly", async () => {
  await using fixture = await startTestHub({ env: { FTP_REQUIRE_TLS: "false" } });
  const opened = await FtpClient.connect({
    port: listenerPort(fixture.hub, "ftp"),
    user: TEST_SECRETS.ftpUser,
    password: TEST_SECRETS.ftpPassword,
    insecurePlain: true,
    timeoutMs: 10_000,
  });
  assert.ok(opened.ok, opened.ok ? "" : opened.error.message);
  await using ftp = opened.value;
  const local = await Deno.makeTempFile({ prefix: "cli_files_" });
  try {
    await Deno.writeTextFile(local, "plain bytes");
    const seen: number[] = [];
    const put = await ftp.put(local, "/plain.txt", (bytes) => seen.push(bytes));
    assert.ok(put.ok, put.ok ? "" : put.error.message);
    assert.equal(seen.at(-1), 11);
    const size = await ftp.size("/plain.txt");
    assert.deepEqual(size, { ok: true, value: 11 });
    const missing = await ftp.size("/nope.txt");
    assert.equal(missing.ok ? 0 : missing.error.code, 550);
    const listed = await ftp.list("/");
    assert.ok(listed.ok);
    const plain = listed.value.find((e) => e.name === "plain.txt");
    assert.deepEqual([plain?.type, plain?.size], ["file", 11]);
    const injected = await ftp.size("/a\r\nDELE /plain.txt");
    assert.equal(injected.ok, false);
    assert.equal((await ftp.size("/plain.txt")).ok, true);
  } finally {
    await Deno.remove(local);
  }
});

Deno.test("FtpClient gives up on a server that never greets, with a timeout error", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const opened = await FtpClient.connect({
    port: listener.addr.port,
    user: "user",
    password: "pass",
    timeoutMs: 200,
  });
  (await accepted).close();
  assert.equal(opened.ok, false);
  assert.match(opened.ok ? "" : opened.error.message, /timeout/i);
  assert.equal(opened.ok ? 0 : opened.error.code, null);
});

Deno.test("FtpClient reports a multi-line refusal with its code", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = (async () => {
    const conn = await listener.accept();
    await conn.write(new TextEncoder().encode("421-Too many connections\r\n421 Try later\r\n"));
    conn.close();
  })();
  const opened = await FtpClient.connect({ port: listener.addr.port, user: "u", password: "p" });
  await server;
  assert.equal(opened.ok ? 0 : opened.error.code, 421);
  assert.match(opened.ok ? "" : opened.error.message, /^421 Too many connections/);
});

Deno.test("ProgressBar draws at most every 100 ms and finishes with 100% and a newline", () => {
  let clock = 0;
  const written: string[] = [];
  const bar = new ProgressBar("put a", {
    terminal: false,
    write: (t) => written.push(t),
    now: () => clock,
  });
  for (let i = 1; i <= 50; i++) {
    clock = i * 10;
    bar.update(i * 1024, 50 * 1024);
  }
  bar.finish(50 * 1024, 50 * 1024);
  assert.equal(written.length, 6, written.join(""));
  assert.ok(written.every((line) => line.endsWith("\n")));
  assert.match(
    written.at(-1)!,
    /^put a {2}\[#{24}\] {2}100% {2}50\.0 KiB \/ 50\.0 KiB {2}100\.0 KiB\/s\n$/,
  );

  const terminal: string[] = [];
  const unknown = new ProgressBar("get b", {
    terminal: true,
    write: (t) => terminal.push(t),
    now: () => 0,
  });
  unknown.update(2048, null);
  unknown.finish(4096, null);
  assert.ok(terminal[0]!.startsWith("\rget b  2.0 KiB  "));
  assert.ok(terminal.at(-1)!.endsWith("\x1b[K\n"));
  assert.doesNotMatch(terminal.join(""), /%/);
});

Deno.test("cli files mkdir makes nested folders, put uploads into them, delete removes file and folder", async () => {
  await using fixture = await startTestHub();
  const local = await Deno.makeTempDir({ prefix: "cli_files_mkdir_" });
  try {
    const photo = join(local, "photo.jpg");
    await Deno.writeFile(photo, new Uint8Array(2048).fill(1));
    const before = await files(fixture, ["put", photo, "/remote/name.jpg", ...userLogin]);
    assert.equal(before.code, 1);
    assert.match(before.err, /550/);
    const made = await files(fixture, ["mkdir", "/remote/2026", ...userLogin]);
    assert.equal(made.code, 0, made.err);
    const put = await files(fixture, ["put", photo, "/remote/name.jpg", ...userLogin]);
    assert.equal(put.code, 0, put.err);
    assert.equal(
      (await Deno.stat(join(fixture.env.UPLOAD_FOLDER!, "remote", "name.jpg"))).size,
      2048,
    );
    const deleted = await files(fixture, ["delete", "/remote/name.jpg", ...userLogin]);
    assert.equal(deleted.code, 0, deleted.err);
    await assert.rejects(Deno.stat(join(fixture.env.UPLOAD_FOLDER!, "remote", "name.jpg")));
    const folder = await files(fixture, ["delete", "/remote/2026", "--folder", ...userLogin]);
    assert.equal(folder.code, 0, folder.err);
    await assert.rejects(Deno.stat(join(fixture.env.UPLOAD_FOLDER!, "remote", "2026")));
    const unknown = await files(fixture, ["frob", ...userLogin]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /Unknown files subcommand: frob/);
  } finally {
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("parseListDate reads LIST dates with a time (this year or last) or a year", () => {
  const now = Date.UTC(2025, 0, 10, 12, 0);
  assert.equal(parseListDate("Jan 09 08:30", now)?.toISOString(), "2025-01-09T08:30:00.000Z");
  assert.equal(parseListDate("Dec 31 23:59", now)?.toISOString(), "2024-12-31T23:59:00.000Z");
  assert.equal(parseListDate("Mar 01  2020", now)?.toISOString(), "2020-03-01T00:00:00.000Z");
  assert.equal(parseListDate("yesterday", now), undefined);
});
