/**
 * Uploads a file as the demo home's porch camera over explicit FTPS with
 * lftp (`ftp:ssl-force`, data connection protected), as a real camera would.
 *
 * The hub's FTPS data connection is sometimes reset mid-upload under load
 * (`426 Transfer aborted, nothing stored: Data connection failed: connection
 * reset`, seen with curl and lftp; an FTP-side issue reported separately).
 * Nothing is stored then, so the upload is tried again, at most 3 times, for
 * that answer only; any other failure fails at once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listenerPort, TEST_SECRETS } from "./hub_fixture.ts";
import { runTool } from "./ftp_clients.ts";
import type { Hub } from "../../hub.ts";

/** Uploads `bytes` as `name` in the porch camera's home. */
export async function uploadAsPorchCamera(
  hub: Hub,
  dir: string,
  bytes: Uint8Array,
  name: string,
): Promise<void> {
  const source = join(dir, `upload-${crypto.randomUUID()}-${name}`);
  await Deno.writeFile(source, bytes);
  const script = [
    "set ftp:ssl-force true",
    "set ftp:ssl-protect-data true",
    "set ssl:verify-certificate no",
    "set net:max-retries 1",
    "set net:timeout 20",
    `open -u porch-camera,${TEST_SECRETS.password("porch-camera")} -p ${
      listenerPort(hub, "ftp")
    } 127.0.0.1`,
    `put ${source} -o ${name}`,
    "bye",
  ].join("; ");
  let last = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const run = await runTool("lftp", ["-d", "-c", script]);
    if (run.code === 0 && /<--- 226 /.test(run.stderr)) return;
    last = run.stderr.slice(-2000);
    if (
      !/426 Transfer aborted, nothing stored: Data connection failed: connection reset/.test(last)
    ) {
      break;
    }
  }
  assert.fail(`the camera's upload failed: ${last}`);
}
