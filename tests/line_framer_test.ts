import assert from "node:assert/strict";
import { type FrameEvent, LineFramer } from "../protocols/line_framer.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const lines = (events: FrameEvent[]) =>
  events.map((e) =>
    e.kind === "line" ? new TextDecoder().decode(e.bytes) + (e.unterminated ? "<u>" : "") : "<long>"
  );

Deno.test("LineFramer joins a line split across chunks at every position", () => {
  const input = "lamp on\r\nthermostat set 21.5\nping\n";
  for (let cut = 0; cut <= input.length; cut++) {
    const framer = new LineFramer({ maxLineBytes: 64 });
    const out = [
      ...framer.push(bytes(input.slice(0, cut))),
      ...framer.push(bytes(input.slice(cut))),
    ];
    assert.deepEqual(lines(out), ["lamp on", "thermostat set 21.5", "ping"], `cut at ${cut}`);
    assert.equal(framer.pendingBytes, 0);
  }
});

Deno.test("LineFramer yields lines byte by byte", () => {
  const framer = new LineFramer({ maxLineBytes: 64 });
  const out: FrameEvent[] = [];
  for (const b of bytes("a b\nc d\n")) out.push(...framer.push(Uint8Array.of(b)));
  assert.deepEqual(lines(out), ["a b", "c d"]);
});

Deno.test("LineFramer reports an oversized line once and skips to its newline", () => {
  const framer = new LineFramer({ maxLineBytes: 8 });
  const out = [
    ...framer.push(bytes("0123456789")),
    ...framer.push(bytes("abcdefghij".repeat(100))),
    ...framer.push(bytes("xyz\nping\n")),
  ];
  assert.deepEqual(lines(out), ["<long>", "ping"]);
  assert.equal(framer.pendingBytes, 0);
});

Deno.test("LineFramer accepts a line of exactly the limit, with or without CR", () => {
  const framer = new LineFramer({ maxLineBytes: 4 });
  assert.deepEqual(lines(framer.push(bytes("abcd\nabcd\r\nabcde\n"))), ["abcd", "abcd", "<long>"]);
  assert.deepEqual(lines(framer.push(bytes("abcd\r"))), []);
  assert.deepEqual(lines(framer.push(bytes("\n"))), ["abcd"]);
});

Deno.test("LineFramer flush turns pending bytes into one unterminated line", () => {
  const framer = new LineFramer({ maxLineBytes: 64 });
  assert.deepEqual(framer.push(bytes("lamp ")), []);
  assert.deepEqual(framer.push(bytes("on")), []);
  assert.deepEqual(lines([framer.flush()!]), ["lamp on<u>"]);
  assert.equal(framer.flush(), undefined);
});

Deno.test("LineFramer keeps binary bytes intact and bounded", () => {
  const framer = new LineFramer({ maxLineBytes: 16 });
  const out = framer.push(Uint8Array.of(0xff, 0xfe, 0x00, 0x0a));
  assert.equal(out.length, 1);
  assert.ok(out[0]!.kind === "line");
  assert.deepEqual([...(out[0] as { bytes: Uint8Array }).bytes], [0xff, 0xfe, 0x00]);
  framer.push(new Uint8Array(10_000));
  assert.ok(framer.pendingBytes <= 17);
});
