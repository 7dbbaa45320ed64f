/**
 * Embeds the page's files (protocols/http/page/page.html, .css, .js) into
 * `protocols/http/page/page_assets.ts`, so the hub serves them without read
 * permission on the folder and `deno compile` carries them. Run after
 * editing the page: `deno task page`. A test checks the two agree.
 *
 * @module
 */
import { renderPageAssets } from "../protocols/http/page/page_embed.ts";

const folder = new URL("../protocols/http/page/", import.meta.url);
Deno.writeTextFileSync(new URL("page_assets.ts", folder), renderPageAssets(folder));
