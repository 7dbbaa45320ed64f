import assert from "node:assert/strict";
import { echoPrefix, PreAuthGate } from "../protocols/pre_auth.ts";
import { untrustedCommandWords } from "../domain/untrusted_input.ts";

Deno.test("PreAuthGate refuses an address over its share without evicting anyone", () => {
  const gate = new PreAuthGate({ maxPending: 4, maxPendingPerKey: 2, loginDeadlineMs: 60_000 });
  const ended: string[] = [];
  const a = gate.admit("a", (why) => ended.push(`a1 ${why}`));
  const b = gate.admit("a", (why) => ended.push(`a2 ${why}`));
  assert.ok(a.ok && b.ok);
  assert.deepEqual(gate.admit("a", () => ended.push("a3")), { ok: false, limit: 2 });
  assert.equal(ended.length, 0);
  assert.equal(gate.pending, 2);
  assert.equal(gate.metrics().prelogin_refused_total, 1);
  gate.close();
});

Deno.test("PreAuthGate makes room by closing the oldest waiting connection, never a logged-in one", () => {
  const gate = new PreAuthGate({ maxPending: 2, maxPendingPerKey: 2, loginDeadlineMs: 60_000 });
  const ended: string[] = [];
  const first = gate.admit("a", (why) => ended.push(`first ${why}`));
  const second = gate.admit("b", (why) => ended.push(`second ${why}`));
  assert.ok(first.ok && second.ok);
  first.ticket.authenticated();
  const third = gate.admit("c", (why) => ended.push(`third ${why}`));
  assert.ok(third.ok);
  assert.equal(ended.length, 0);
  const fourth = gate.admit("d", (why) => ended.push(`fourth ${why}`));
  assert.ok(fourth.ok);
  assert.deepEqual(ended, ["second evicted"]);
  assert.equal(gate.pending, 2);
  assert.equal(gate.metrics().prelogin_evicted_total, 1);
  gate.close();
  assert.equal(gate.makeRoom(), false);
});

Deno.test("PreAuthGate closes a connection at its deadline unless it logged in", async () => {
  const gate = new PreAuthGate({ maxPending: 8, maxPendingPerKey: 8, loginDeadlineMs: 30 });
  const { promise, resolve } = Promise.withResolvers<string>();
  const late = gate.admit("a", (why) => resolve(why));
  const onTime = gate.admit("a", () => resolve("logged-in connection closed"));
  assert.ok(late.ok && onTime.ok);
  onTime.ticket.authenticated();
  assert.equal(await promise, "deadline");
  assert.equal(gate.pending, 0);
  assert.equal(gate.metrics().prelogin_deadline_closed_total, 1);
  late.ticket.release();
});

Deno.test("untrustedCommandWords and echoPrefix keep a short printable part only", () => {
  assert.equal(untrustedCommandWords("lgin"), "lgin");
  assert.equal(untrustedCommandWords("x".repeat(100)).length, 32);
  assert.equal(echoPrefix("AB\r\nC"), "AB??C");
  assert.equal(echoPrefix("A".repeat(1000)), `${"A".repeat(16)}...`);
});
