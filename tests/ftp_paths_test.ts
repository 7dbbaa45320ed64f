import assert from "node:assert/strict";
import { listingPath } from "../protocols/ftp/ftp_commands.ts";
import {
  isInside,
  parseHomeFolder,
  parseVirtualPath,
  resolveVirtualPath,
} from "../domain/storage_paths.ts";

Deno.test("resolveVirtualPath joins relative paths to the working folder and drops dots", () => {
  assert.deepEqual(resolveVirtualPath("/a/b", "c/./d"), {
    ok: true,
    components: ["a", "b", "c", "d"],
  });
  assert.deepEqual(resolveVirtualPath("/a/b", "../c"), { ok: true, components: ["a", "c"] });
  assert.deepEqual(resolveVirtualPath("/a", "/x//y/"), { ok: true, components: ["x", "y"] });
});

Deno.test("resolveVirtualPath refuses every way of climbing above the home", () => {
  for (
    const [cwd, input] of [
      ["/", ".."],
      ["/", "../etc/passwd"],
      ["/a", "../../etc"],
      ["/", "/../x"],
      ["/a/b", "/a/../../b"],
      ["/", "a/../../b"],
    ] as const
  ) {
    const result = resolveVirtualPath(cwd, input);
    assert.equal(result.ok, false, `${cwd} + ${input}`);
    if (!result.ok) assert.equal(result.error.reason, "escapes_home");
  }
});

Deno.test("resolveVirtualPath refuses percent-encoded dots, slashes and backslashes", () => {
  for (const input of ["%2e%2e", "%2E%2e/x", "a%2fb", "a%5cb", "%252e%252e", "%2e", "x%00y"]) {
    const result = resolveVirtualPath("/", input);
    assert.equal(result.ok, false, input);
  }
  // A plain percent sign in a name is fine.
  assert.equal(resolveVirtualPath("/", "100%.txt").ok, true);
});

Deno.test("resolveVirtualPath refuses backslashes, control bytes and the reserved partial folder", () => {
  for (
    const input of ["..\\..\\x", "a\\b", "a\u0000b", "a\nb", ".hub-partial", "x/.hub-partial/y"]
  ) {
    assert.equal(resolveVirtualPath("/", input).ok, false, JSON.stringify(input));
  }
});

Deno.test("resolveVirtualPath refuses over-long names and paths", () => {
  assert.equal(resolveVirtualPath("/", "a".repeat(256)).ok, false);
  assert.equal(resolveVirtualPath("/", "a/".repeat(600)).ok, false);
  assert.equal(resolveVirtualPath("/", "a".repeat(255)).ok, true);
});

Deno.test("parseVirtualPath accepts only absolute normal paths", () => {
  assert.equal(parseVirtualPath("/a/b").ok, true);
  assert.equal(parseVirtualPath("/").ok, true);
  assert.equal(parseVirtualPath("a/b").ok, false);
  assert.equal(parseVirtualPath("/a/../b").ok, false);
  assert.equal(parseVirtualPath("/a//b").ok, false);
});

Deno.test("isInside compares whole components, so a sibling sharing the prefix is outside", () => {
  assert.equal(isInside("/srv/uploads", "/srv/uploads"), true);
  assert.equal(isInside("/srv/uploads", "/srv/uploads/a/b"), true);
  assert.equal(isInside("/srv/uploads", "/srv/uploads-evil"), false);
  assert.equal(isInside("/srv/uploads", "/srv/uploads-evil/x"), false);
  assert.equal(isInside("/srv/uploads", "/srv"), false);
  assert.equal(isInside("/srv/uploads", "/srv/uploads/..x"), true);
});

Deno.test("parseHomeFolder refuses absolute and climbing homes", () => {
  assert.deepEqual(parseHomeFolder(""), { ok: true, components: [] });
  assert.deepEqual(parseHomeFolder("cameras/porch"), {
    ok: true,
    components: ["cameras", "porch"],
  });
  assert.equal(parseHomeFolder("/etc").ok, false);
  assert.equal(parseHomeFolder("../x").ok, false);
  assert.equal(parseHomeFolder("a/../../x").ok, false);
});

Deno.test("listingPath() drops ls-style flags and keeps the path", () => {
  assert.equal(listingPath("-la sub"), "sub");
  assert.equal(listingPath("-l -a my folder"), "my folder");
  assert.equal(listingPath("-la"), null);
  assert.equal(listingPath(null), null);
  assert.equal(listingPath("photos"), "photos");
});
