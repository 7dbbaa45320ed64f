/**
 * Camera snapshots over HTTP: a camera uploads over FTPS (lftp with
 * ftp:ssl-force), the API streams the same bytes back and the event stream
 * announces it; no path from the client is ever used, and tricks (encoded
 * `..`, NUL, a symlink planted in the camera's folder) are refused.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTestHub } from "./helpers/hub_fixture.ts";
import { uploadAsPorchCamera } from "./helpers/camera_upload.ts";
import { baseUrl, bearer, call } from "./helpers/http_api.ts";
import { openEvents } from "./helpers/sse_client.ts";
import type { Hub } from "../hub.ts";

const FTP_ENV = { FTP_PASV_MIN: "0", FTP_PASV_MAX: "0", FTP_LOGIN_FAILURE_DELAY_MS: "0" };
const ADMIN = bearer("admin");

/** Uploads `bytes` as the porch camera over explicit FTPS; the stored file's path. */
async function uploadSnapshot(hub: Hub, dir: string, bytes: Uint8Array): Promise<string> {
  await uploadAsPorchCamera(hub, dir, bytes, "snap.jpg");
  for (let i = 0; i < 200; i++) {
    const camera = await call(hub, "GET", "/api/devices/porch-camera", { headers: ADMIN });
    const path = camera.body.device.state.lastSnapshot;
    if (typeof path === "string") return join(dir, "uploads", ...path.split("/"));
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("the camera's state never showed the snapshot");
}

function jpegBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(new ArrayBuffer(size));
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  bytes.set([0xff, 0xd8, 0xff, 0xe0]);
  return bytes;
}

Deno.test("snapshot - a camera's FTPS upload is announced live and streamed back byte for byte", async () => {
  await using fx = await startTestHub({ env: FTP_ENV });
  const none = await call(fx.hub, "GET", "/api/cameras/porch-camera/snapshot", { headers: ADMIN });
  assert.equal(none.status, 404, "no snapshot before the first upload");
  assert.equal(none.body.error.code, "not_found");
  await using events = await openEvents(fx.hub, ADMIN);
  await events.next();
  // 48 kB: uploads of about 200 kB over FTPS get an intermittent "426 ... connection reset" from
  // the FTP side under load (reported; tests/helpers/camera_upload.ts).
  const bytes = jpegBytes(48_000);
  await uploadSnapshot(fx.hub, fx.dir, bytes);
  const announced = await events.until((f) => f.event === "camera");
  assert.equal(announced.data.device, "porch-camera");
  const response = await fetch(`${baseUrl(fx.hub)}/api/cameras/porch-camera/snapshot`, {
    headers: ADMIN,
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "image/jpeg");
  const body = new Uint8Array(await response.arrayBuffer());
  assert.deepEqual(body, bytes);
  const sha = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  assert.equal(response.headers.get("etag"), `"${sha}"`);
});

Deno.test("snapshot - grants, non-cameras and path tricks are refused without reading any other file", async () => {
  await using fx = await startTestHub({ env: FTP_ENV });
  await uploadSnapshot(fx.hub, fx.dir, jpegBytes(1000));
  const panel = await call(fx.hub, "GET", "/api/cameras/porch-camera/snapshot", {
    headers: bearer("kitchen-panel"),
  });
  assert.equal(panel.status, 403, "no grant on the camera");
  const tricks: [string, number][] = [
    ["/api/cameras/..%2F..%2F..%2Fetc%2Fpasswd/snapshot", 400],
    // The URL parser turns %2e%2e into .. : no route matches.
    ["/api/cameras/%2e%2e/snapshot", 404],
    ["/api/cameras/porch-camera%00/snapshot", 400],
    ["/api/cameras/porch-camera%2F..%2F..%2Fetc/snapshot", 400],
    ["/api/cameras/lamp/snapshot", 404],
    ["/api/cameras/nosuch/snapshot", 404],
    ["/api/cameras/porch-camera/snapshot/../../../../etc/passwd", 404],
  ];
  for (const [path, status] of tricks) {
    const answer = await call(fx.hub, "GET", path, { headers: ADMIN });
    assert.equal(answer.status, status, `${path}: ${JSON.stringify(answer.body)}`);
    assert.ok(!JSON.stringify(answer.body).includes("root:"), path);
  }
  // A query naming a path is ignored: the camera's own snapshot comes back.
  const queried = await fetch(
    `${baseUrl(fx.hub)}/api/cameras/porch-camera/snapshot?path=/etc/passwd&file=../../etc/passwd`,
    { headers: ADMIN },
  );
  assert.equal(queried.status, 200);
  assert.equal((await queried.arrayBuffer()).byteLength, 1000);
});

Deno.test("snapshot - a symlink planted where the snapshot was is not followed out of the camera's home", async () => {
  await using fx = await startTestHub({ env: FTP_ENV });
  const stored = await uploadSnapshot(fx.hub, fx.dir, jpegBytes(500));
  const outside = join(fx.dir, "outside-secret.txt");
  await Deno.writeTextFile(outside, "root:x:0:0:secret");
  await Deno.remove(stored);
  await Deno.symlink(outside, stored);
  const answer = await call(fx.hub, "GET", "/api/cameras/porch-camera/snapshot", {
    headers: ADMIN,
  });
  assert.equal(answer.status, 404);
  assert.ok(!JSON.stringify(answer.body).includes("root:"));
});
