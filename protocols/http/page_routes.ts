/**
 * The page (`GET /`, `/page.css`, `/page.js`), embedded in the hub: nothing
 * is loaded from anywhere else (a strict Content-Security-Policy says so to
 * the browser), and nothing needs read permission at run time.
 *
 * @module
 */
import type { Hono } from "hono";
import { PAGE_ASSETS } from "./page/page_assets.ts";
import type { HttpEnv } from "./http_context.ts";

/** The page's Content-Security-Policy: only the hub itself. */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/** Registers the page's files on `app`. */
export function pageRoutes(app: Hono<HttpEnv>, secure: boolean): void {
  for (const asset of PAGE_ASSETS) {
    const etag = `"${hash(asset.body)}"`;
    app.get(asset.path, (c) => {
      if (c.req.header("if-none-match") === etag) return c.body(null, 304);
      c.header("content-type", asset.type);
      c.header("etag", etag);
      c.header("cache-control", "no-cache");
      c.header("content-security-policy", PAGE_CSP);
      c.header("x-content-type-options", "nosniff");
      c.header("x-frame-options", "DENY");
      c.header("referrer-policy", "no-referrer");
      if (secure) c.header("strict-transport-security", "max-age=31536000");
      return c.body(asset.body);
    });
  }
}

/** A short FNV-1a hash of a text, for the ETag. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}
