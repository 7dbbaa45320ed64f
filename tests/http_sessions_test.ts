/**
 * Page sessions (protocols/http/http_sessions.ts) on a test clock: signed
 * cookies that expire, cannot be altered, are revoked by logout, survive a
 * new codec with the same key (a hub restart), and carry a CSRF token.
 */
import assert from "node:assert/strict";
import { readSessionCookie, SessionCodec, sessionCookie } from "../protocols/http/http_sessions.ts";

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

Deno.test("a session cookie is valid until its expiry, then refused as expired", () => {
  const time = clock();
  const codec = new SessionCodec("key material", { ttlSeconds: 60, clock: time });
  const { cookie, session } = codec.issue("admin");
  const checked = codec.check(cookie);
  assert.ok(checked.ok);
  assert.equal(checked.session.principal, "admin");
  assert.equal(checked.session.csrf, session.csrf);
  time.advance(59_999);
  assert.ok(codec.check(cookie).ok);
  time.advance(1);
  assert.deepEqual(codec.check(cookie), { ok: false, problem: "expired" });
});

Deno.test("an altered cookie, or one signed with another key, is refused as invalid", () => {
  const time = clock();
  const codec = new SessionCodec("key material", { ttlSeconds: 60, clock: time });
  const { cookie } = codec.issue("kitchen-panel");
  const [, expires, nonce, mac] = cookie.split(".");
  for (
    const forged of [
      `admin.${expires}.${nonce}.${mac}`,
      `kitchen-panel.${Number(expires) + 1000}.${nonce}.${mac}`,
      cookie.slice(0, -2) + "AA",
      "kitchen-panel",
      "",
    ]
  ) assert.deepEqual(codec.check(forged), { ok: false, problem: "invalid" }, forged);
  const other = new SessionCodec("another key", { ttlSeconds: 60, clock: time });
  assert.deepEqual(other.check(cookie), { ok: false, problem: "invalid" });
  const restarted = new SessionCodec("key material", { ttlSeconds: 60, clock: time });
  assert.ok(restarted.check(cookie).ok, "the same key (the hub restarted) accepts it");
});

Deno.test("logout revokes the session; the CSRF token must match exactly", () => {
  const codec = new SessionCodec("key material", { ttlSeconds: 60, clock: clock() });
  const { cookie, session } = codec.issue("admin");
  assert.equal(codec.csrfMatches(session, session.csrf), true);
  assert.equal(codec.csrfMatches(session, null), false);
  assert.equal(codec.csrfMatches(session, session.csrf + "x"), false);
  const second = codec.issue("admin");
  assert.notEqual(second.session.csrf, session.csrf, "each login has its own CSRF token");
  codec.revoke(session);
  assert.deepEqual(codec.check(cookie), { ok: false, problem: "revoked" });
  assert.ok(codec.check(second.cookie).ok, "another session of the same principal goes on");
});

Deno.test("the Set-Cookie value is HttpOnly and SameSite=Strict, Secure over HTTPS, and reads back", () => {
  assert.equal(
    sessionCookie("v", 60, false),
    "hub_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60",
  );
  assert.match(sessionCookie("v", 60, true), /; Secure$/);
  assert.equal(readSessionCookie("a=1; hub_session=abc.def; b=2"), "abc.def");
  assert.equal(readSessionCookie("a=1"), undefined);
});
