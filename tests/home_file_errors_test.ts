import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig } from "../config/config.ts";

const base = () => ({
  name: "Test home",
  devices: [{ id: "lamp", type: "light", name: "Lamp", room: "hall" }],
  principals: [
    {
      id: "admin",
      kind: "controller",
      grants: [{ devices: ["*"], actions: ["*"] }],
      channels: ["tls"],
    },
    {
      id: "kitchen-panel",
      kind: "controller",
      grants: [{ devices: ["lamp"], actions: ["on"] }],
      channels: ["tls"],
    },
  ],
});

async function errorFor(text: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "home_errors_" });
  try {
    const file = join(dir, "home.json");
    await Deno.writeTextFile(file, text);
    const loaded = loadConfig({ HOME_CONFIG: file }, dir);
    assert.ok(!loaded.ok, "the home file was accepted");
    return loaded.error.message;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a grant naming an action no device type has is refused, naming the principal and the valid actions", async () => {
  const home = base();
  home.principals[1]!.grants[0]!.actions = ["fly"];
  const message = await errorFor(JSON.stringify(home));
  assert.match(
    message,
    /principal "kitchen-panel" › grant 1 › action 1: "fly" is not an action of lamp/,
  );
  assert.match(message, /brightness|on, status, toggle/);
});

Deno.test("home-file errors name devices and principals by id, not by position", async () => {
  const home = base();
  (home.principals[1] as Record<string, unknown>).channels = ["carrier-pigeon"];
  const message = await errorFor(JSON.stringify(home));
  assert.match(message, /principal "kitchen-panel" › channels/);
  assert.doesNotMatch(message, /principals\.1/);
});

Deno.test("a JSON syntax error in the home file gives its line and column", async () => {
  const message = await errorFor(
    '{\n  "name": "x",\n  "devices": [\n    {"id": "a"}\n    {"id": "b"}\n  ]\n}',
  );
  assert.match(message, /not valid JSON: line 5, column 5/);
});

Deno.test("a missing field is reported as required", async () => {
  const home = base();
  delete (home.devices[0] as Record<string, unknown>).room;
  const message = await errorFor(JSON.stringify(home));
  assert.match(message, /device "lamp" › room: required/);
  assert.doesNotMatch(message, /received undefined/);
});

Deno.test("an FTP home outside UPLOAD_FOLDER is explained for the home file, not for an FTP client", async () => {
  const home = base() as Record<string, unknown> & ReturnType<typeof base>;
  (home.principals as unknown[]).push({
    id: "cam",
    kind: "camera",
    channels: ["ftp"],
    ftp: { home: "../../etc", permissions: "w" },
  });
  const message = await errorFor(JSON.stringify(home));
  assert.match(
    message,
    /principal "cam" › ftp › home: "\.\.\/\.\.\/etc" must be a folder inside UPLOAD_FOLDER/,
  );
  assert.doesNotMatch(message, /Path leaves your home folder/);
});
