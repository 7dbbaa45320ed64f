import assert from "node:assert/strict";
import { formatRequest, parseRequest } from "../protocols/command_parser.ts";
import { escapeEcho, seedAcknowledgement } from "../protocols/replies.ts";

Deno.test("parseRequest reads text commands with and without values", () => {
  assert.deepEqual(parseRequest("lamp on"), {
    ok: true,
    format: "text",
    id: null,
    request: { op: "command", device: "lamp", action: "on", args: [] },
  });
  const set = parseRequest("  Thermostat   SET\t21.5 ");
  assert.ok(set.ok);
  assert.deepEqual(set.request, {
    op: "command",
    device: "thermostat",
    action: "set",
    args: ["21.5"],
  });
  const dim = parseRequest("lamp brightness 40");
  assert.ok(dim.ok);
  assert.deepEqual(dim.request, {
    op: "command",
    device: "lamp",
    action: "brightness",
    args: ["40"],
  });
});

Deno.test("parseRequest reads every keyword of the text form", () => {
  const ops = (line: string) => {
    const r = parseRequest(line);
    return r.ok ? r.request : r.error.code;
  };
  assert.deepEqual(ops("status lamp"), { op: "status", device: "lamp" });
  assert.deepEqual(ops("lamp status"), { op: "status", device: "lamp" });
  assert.deepEqual(ops("devices"), { op: "devices" });
  assert.deepEqual(ops("status"), { op: "devices" });
  assert.deepEqual(ops("subscribe lamp"), { op: "subscribe", device: "lamp" });
  assert.deepEqual(ops("subscribe *"), { op: "subscribe", device: "*" });
  assert.deepEqual(ops("unsubscribe *"), { op: "unsubscribe", device: "*" });
  assert.deepEqual(ops("PING"), { op: "ping" });
  assert.deepEqual(ops("quit"), { op: "quit" });
  assert.deepEqual(ops("exit"), { op: "quit" });
  assert.deepEqual(ops("login admin AbC-123"), {
    op: "login",
    principal: "admin",
    token: "AbC-123",
  });
});

Deno.test("parseRequest refuses malformed text with a specific message", () => {
  for (
    const [line, fragment] of [
      ["", "Empty"],
      ["lamp", "Missing action"],
      ["ping now", "takes no arguments"],
      ["status", ""],
      ["subscribe", "Usage: subscribe"],
      ["login admin", "Usage: login"],
      ["LAMP! on", "Not a command"],
      ["lamp 0n!", "Actions are words"],
      ["lamp set 1 2 3 4 5 6 7 8 9", "At most 8"],
      ["\u0001\u0002", "Not a command"],
    ] as const
  ) {
    const r = parseRequest(line);
    if (line === "status") {
      assert.ok(r.ok);
      continue;
    }
    assert.equal(r.ok, false, line);
    if (!r.ok) {
      assert.equal(r.error.code, "malformed");
      assert.match(r.error.message, new RegExp(fragment.replace(/[!*]/g, "\\$&")), line);
    }
  }
});

Deno.test("parseRequest reads the JSON form and keeps the request id", () => {
  const r = parseRequest(
    '{"id":7,"op":"command","device":"lamp","action":"brightness","args":[40]}',
  );
  assert.deepEqual(r, {
    ok: true,
    format: "json",
    id: 7,
    request: { op: "command", device: "lamp", action: "brightness", args: ["40"] },
  });
  const text = parseRequest('{"id":"a","text":"thermostat mode cool"}');
  assert.ok(text.ok);
  assert.equal(text.id, "a");
  assert.deepEqual(text.request, {
    op: "command",
    device: "thermostat",
    action: "mode",
    args: ["cool"],
  });
  const login = parseRequest('{"op":"login","principal":"admin","token":"T"}');
  assert.ok(login.ok);
  assert.deepEqual(login.request, { op: "login", principal: "admin", token: "T" });
});

Deno.test("parseRequest refuses bad JSON with the id when it has one", () => {
  const broken = parseRequest('{"id":1,"op":');
  assert.equal(broken.ok, false);
  assert.equal(broken.format, "json");
  const noOp = parseRequest('{"id":3,"op":"fly"}');
  assert.ok(!noOp.ok);
  assert.equal(noOp.id, 3);
  assert.match(noOp.error.message, /op must be one of/);
  const badArgs = parseRequest('{"id":4,"op":"command","device":"lamp","action":"on","args":[{}]}');
  assert.ok(!badArgs.ok);
  assert.equal(badArgs.id, 4);
  const array = parseRequest("{}");
  assert.ok(!array.ok);
  const badId = parseRequest(`{"id":{"x":1},"op":"ping"}`);
  assert.ok(!badId.ok);
  assert.match(badId.error.message, /id must be/);
});

Deno.test("formatRequest never shows a login token", () => {
  const r = parseRequest("login admin secret-token");
  assert.ok(r.ok);
  assert.equal(formatRequest(r.request), "login admin ***");
  const c = parseRequest("thermostat set 21.5");
  assert.ok(c.ok);
  assert.equal(formatRequest(c.request), "thermostat set 21.5");
});

Deno.test("escapeEcho escapes control bytes and backslashes and caps the length", () => {
  assert.equal(escapeEcho("a\u0000b\u001b[2J\\\u2028"), "a\\x00b\\x1b[2J\\\\\\u2028");
  assert.equal(escapeEcho("x".repeat(300)), "x".repeat(200) + "...");
  assert.equal(seedAcknowledgement("lamp on"), "Command 'lamp on' received and executed.");
});
