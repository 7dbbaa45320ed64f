/**
 * End-to-end tests of explicit FTPS (AUTH TLS, PROT P) with three real
 * clients: curl --ssl-reqd, lftp with ftp:ssl-force, and Python's
 * ftplib.FTP_TLS. TLS is required before login (the default).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { loginSteps, runFtpClient, runTool, sha256File } from "./helpers/ftp_clients.ts";

const TLS_ENV = { FTP_PASV_MIN: "0", FTP_PASV_MAX: "0", FTP_LOGIN_FAILURE_DELAY_MS: "0" };
const USER = `${TEST_SECRETS.ftpUser}:${TEST_SECRETS.ftpPassword}`;

async function makeFile(dir: string, name: string, size: number): Promise<string> {
  const path = join(dir, name);
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  await Deno.writeFile(path, data);
  return path;
}

Deno.test("ftps - curl --ssl-reqd uploads and downloads byte-identical and gets 226", async () => {
  await using fx = await startTestHub({ env: TLS_ENV });
  const port = listenerPort(fx.hub, "ftp");
  const source = await makeFile(fx.dir, "curl-up.bin", 3_000_000);
  const up = await runTool("curl", [
    "-sS",
    "-v",
    "--ssl-reqd",
    "-k",
    "--max-time",
    "60",
    "-T",
    source,
    `ftp://${USER}@127.0.0.1:${port}/curl.bin`,
  ]);
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stderr, /< 226 /);
  const down = join(fx.dir, "curl-down.bin");
  const get = await runTool("curl", [
    "-sS",
    "-v",
    "--ssl-reqd",
    "-k",
    "--max-time",
    "60",
    "-o",
    down,
    `ftp://${USER}@127.0.0.1:${port}/curl.bin`,
  ]);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stderr, /< 226 /);
  const expected = await sha256File(source);
  assert.equal(await sha256File(join(fx.dir, "uploads", "curl.bin")), expected);
  assert.equal(await sha256File(down), expected);
});

Deno.test("ftps - lftp with ftp:ssl-force uploads, lists and downloads byte-identical", async () => {
  await using fx = await startTestHub({ env: TLS_ENV });
  const port = listenerPort(fx.hub, "ftp");
  const source = await makeFile(fx.dir, "lftp-up.bin", 2_500_000);
  const down = join(fx.dir, "lftp-down.bin");
  const script = [
    "set ftp:ssl-force true",
    "set ftp:ssl-protect-data true",
    "set ssl:verify-certificate no",
    "set net:max-retries 1",
    "set net:timeout 20",
    `open -u ${USER.replace(":", ",")} -p ${port} 127.0.0.1`,
    `put ${source} -o lftp.bin`,
    "cls -l",
    `get lftp.bin -o ${down}`,
    "bye",
  ].join("; ");
  const run = await runTool("lftp", ["-d", "-c", script]);
  assert.equal(run.code, 0, run.stderr.slice(-2000));
  assert.match(run.stdout, /lftp\.bin/);
  assert.match(run.stderr, /<--- 226 Transfer complete: \/lftp\.bin/);
  const expected = await sha256File(source);
  assert.equal(await sha256File(join(fx.dir, "uploads", "lftp.bin")), expected);
  assert.equal(await sha256File(down), expected);
});

Deno.test("ftps - ftplib.FTP_TLS uploads, lists and downloads byte-identical with 226", async () => {
  await using fx = await startTestHub({ env: TLS_ENV });
  const r = await runFtpClient(listenerPort(fx.hub, "ftp"), [
    ...loginSteps(TEST_SECRETS.ftpUser, TEST_SECRETS.ftpPassword, true),
    { op: "stor", path: "py.bin", size: 5_000_000, seed: 21 },
    { op: "nlst" },
    { op: "retr", path: "py.bin" },
  ]);
  assert.equal(r[1]!.code, 230);
  assert.equal(r[2]!.code, 226, r[2]!.text);
  assert.ok(r[3]!.lines!.includes("py.bin"));
  assert.equal(r[4]!.code, 226);
  assert.equal(r[4]!.sha256, r[2]!.sha256);
  assert.equal(await sha256File(join(fx.dir, "uploads", "py.bin")), r[2]!.sha256);
});

Deno.test("ftps - a plaintext login is refused with a clear reply when TLS is required", async () => {
  await using fx = await startTestHub({ env: TLS_ENV });
  const port = listenerPort(fx.hub, "ftp");
  const r = await runFtpClient(port, [
    { op: "connect" },
    { op: "cmd", line: `USER ${TEST_SECRETS.ftpUser}` },
    { op: "cmd", line: `PASS ${TEST_SECRETS.ftpPassword}` },
  ]);
  assert.equal(r[1]!.code, 530);
  assert.match(r[1]!.text!, /TLS required: send AUTH TLS/);
  assert.equal(r[2]!.code, 530);
  const curl = await runTool("curl", [
    "-sS",
    "--max-time",
    "20",
    "-T",
    "/dev/null",
    `ftp://${USER}@127.0.0.1:${port}/x.bin`,
  ]);
  assert.notEqual(curl.code, 0);
  await assert.rejects(Deno.stat(join(fx.dir, "uploads", "x.bin")));
});
