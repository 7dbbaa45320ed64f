import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./helpers/hub_fixture.ts";

const readme = await Deno.readTextFile(join(REPO_ROOT, "README.md"));

Deno.test("the README stands alone: no link leaves the clone, and every relative link exists", async () => {
  assert.doesNotMatch(readme, /\.\.\/shared|\.\.\/seed/);
  const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]!)
    .filter((l) => !/^https?:/.test(l));
  assert.ok(links.length > 3);
  for (const link of links) {
    assert.ok(!link.startsWith(".."), `${link} leaves the clone`);
    await Deno.stat(join(REPO_ROOT, link));
  }
});

Deno.test("the README's guide comes before its reference and covers a home of one's own", () => {
  const order = [
    "## Quick start",
    "## Your own home",
    "## Control it",
    "## Cameras",
    "## Sensors over UDP",
    "## Backups and the audit log",
    "## Reference",
    "## Configuration",
  ];
  const at = order.map((h) => readme.indexOf(h));
  assert.ok(at.every((i) => i >= 0), JSON.stringify(order.filter((_, i) => at[i]! < 0)));
  assert.deepEqual([...at].sort((a, b) => a - b), at);
  // Secrets never on the command line in the guide.
  assert.doesNotMatch(readme, /--token <|--password [^-]|--key \$|--secret [^-]/);
});

Deno.test(".env.example names only tasks that exist", async () => {
  const example = await Deno.readTextFile(join(REPO_ROOT, ".env.example"));
  const tasks = Object.keys(
    JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "deno.json"))).tasks,
  );
  const named = [...example.matchAll(/deno task ([a-z-]+)/g)].map((m) => m[1]!);
  assert.ok(named.length > 0);
  for (const task of named) assert.ok(tasks.includes(task), `${task} is not a task`);
});

Deno.test("a home.json of the user's own in the checkout does not fail deno task check's fmt and lint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "docs_check_" });
  try {
    await Deno.copyFile(join(REPO_ROOT, "deno.json"), join(dir, "deno.json"));
    await Deno.writeTextFile(join(dir, "home.json"), '{"name":"x",   "devices":[]}');
    await Deno.writeTextFile(join(dir, "ok.ts"), "export const x = 1;\n");
    for (const tool of ["fmt", "lint"]) {
      const args = tool === "fmt" ? ["fmt", "--check"] : ["lint"];
      const result = await new Deno.Command(Deno.execPath(), {
        args,
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task docs says what it did", async () => {
  const dir = await Deno.makeTempDir({ prefix: "docs_sync_" });
  try {
    await Deno.copyFile(join(REPO_ROOT, "README.md"), join(dir, "README.md"));
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--config=${REPO_ROOT}deno.json`,
        "--allow-read=README.md,.env.example",
        "--allow-write=README.md,.env.example",
        join(REPO_ROOT, "scripts", "sync_docs.ts"),
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(result.stdout);
    assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
    assert.match(out, /README\.md \(configuration reference\): already up to date/);
    assert.match(out, /\.env\.example: updated/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
