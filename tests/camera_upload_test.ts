import assert from "node:assert/strict";
import { join } from "node:path";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { runTool } from "./helpers/ftp_clients.ts";
import type { HomeInput } from "../config/home.ts";
import demoHome from "../config/demo_home.json" with { type: "json" };

function homeWithCamera(permissions: string): HomeInput {
  return {
    name: "Camera home",
    devices: [{ id: "cam", type: "camera", name: "Camera", room: "porch" }],
    principals: [{
      id: "cam",
      kind: "camera",
      device: "cam",
      grants: [],
      channels: ["ftp"],
      ftp: { home: "cameras/cam", permissions },
    }],
  };
}

/** The README's camera upload: curl makes the day folder and stores the snapshot. */
async function curlUpload(port: number, dir: string, path: string) {
  const snap = join(dir, "snap.jpg");
  await Deno.writeFile(snap, new Uint8Array(5000).fill(9));
  const url = `ftp://cam:${TEST_SECRETS.password("cam")}@127.0.0.1:${port}${path}`;
  return await runTool("curl", [
    "-sS",
    "--ssl-reqd",
    "-k",
    "--ftp-create-dirs",
    "--max-time",
    "30",
    "-T",
    snap,
    url,
  ]);
}

const PASV = { FTP_PASV_MIN: "0", FTP_PASV_MAX: "0" };

Deno.test("a camera with the README's permissions (emw) creates its day folders and uploads with curl --ftp-create-dirs", async () => {
  await using fixture = await startTestHub({ home: homeWithCamera("emw"), env: PASV });
  const port = listenerPort(fixture.hub, "ftp");
  const up = await curlUpload(port, fixture.dir, "/ipc/20261201/img1.jpg");
  assert.equal(up.code, 0, up.stderr);
  const stored = join(fixture.env.UPLOAD_FOLDER!, "cameras", "cam", "ipc", "20261201", "img1.jpg");
  assert.equal((await Deno.stat(stored)).size, 5000);
  // And nothing more: no listing, no download, no delete.
  const base = `ftp://cam:${TEST_SECRETS.password("cam")}@127.0.0.1:${port}`;
  const list = await runTool("curl", [
    "-sS",
    "--ssl-reqd",
    "-k",
    "--max-time",
    "30",
    `${base}/ipc/`,
  ]);
  assert.notEqual(list.code, 0);
  const get = await runTool("curl", [
    "-sS",
    "--ssl-reqd",
    "-k",
    "--max-time",
    "30",
    "-o",
    join(fixture.dir, "back.jpg"),
    `${base}/ipc/20261201/img1.jpg`,
  ]);
  assert.notEqual(get.code, 0);
});

Deno.test("a camera with only w cannot make folders, which is why cameras get emw", async () => {
  await using fixture = await startTestHub({ home: homeWithCamera("w"), env: PASV });
  const up = await curlUpload(
    listenerPort(fixture.hub, "ftp"),
    fixture.dir,
    "/ipc/20261201/img1.jpg",
  );
  assert.notEqual(up.code, 0);
});

Deno.test("the demo home's camera has the permission set that lets it upload into new folders", () => {
  const camera = demoHome.principals.find((p) => p.kind === "camera");
  assert.equal(camera?.ftp?.permissions, "emw");
});
