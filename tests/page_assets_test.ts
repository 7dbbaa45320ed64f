/**
 * The page the hub serves is the page in protocols/http/page/: the embedded
 * copy (page_assets.ts, made by `deno task page`) matches the files.
 */
import assert from "node:assert/strict";
import { PAGE_ASSETS } from "../protocols/http/page/page_assets.ts";
import { PAGE_FILES } from "../protocols/http/page/page_embed.ts";

Deno.test("the embedded page matches page.html, page.css and page.js (run deno task page after editing)", () => {
  const folder = new URL("../protocols/http/page/", import.meta.url);
  assert.equal(PAGE_ASSETS.length, PAGE_FILES.length);
  for (const { file, path } of PAGE_FILES) {
    const embedded = PAGE_ASSETS.find((a) => a.path === path);
    assert.ok(embedded, `${path} is embedded`);
    assert.equal(embedded.body, Deno.readTextFileSync(new URL(file, folder)), `${file} is current`);
  }
});

Deno.test("the page loads nothing from outside the hub", () => {
  for (const asset of PAGE_ASSETS) {
    assert.ok(!/https?:\/\//.test(asset.body), `${asset.path} names no other origin`);
  }
});
