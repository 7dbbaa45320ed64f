/**
 * The signed UDP datagram format, the replay cache and the reply cache, as
 * pure values; the worked example of docs/UDP.md checked against Python's
 * own `hmac` module.
 */
import assert from "node:assert/strict";
import { signingKeyFromHex } from "../protocols/udp/hmac.ts";
import {
  decodeReply,
  decodeRequest,
  encodeRequest,
  encodeSignedReply,
  encodeUnsignedReply,
  parseReadingBody,
  truncateUtf8,
  type UdpRequest,
  verifyRequest,
} from "../protocols/udp/udp_datagram.ts";
import { ReplayCache } from "../protocols/udp/replay_cache.ts";
import { ReplyCache } from "../protocols/udp/udp_reply_cache.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The worked example of docs/UDP.md. */
const EXAMPLE = {
  keyHex: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
  signed: "HUB1 hall-sensor 1767225600 00000000000000a1 7 rpt hall-sensor temperature 21.4",
  mac: "9ee8c52f122c81c658acfbebb66d6a56baace8f09ea21f1c1b5b58ade3165d41",
  replySigned: "HUB1R hall-sensor 7 ok hall-sensor temperature=21.4",
  replyMac: "bb6d2244e96e5a844574f15013deb644994d722fda47529dc8e110abaa4f8678",
};
const key = signingKeyFromHex(EXAMPLE.keyHex)!;
const request: UdpRequest = {
  principal: "hall-sensor",
  timestamp: 1767225600,
  nonce: "00000000000000a1",
  id: "7",
  kind: "rpt",
  body: "hall-sensor temperature 21.4",
};

Deno.test("encodeRequest() produces the worked example of docs/UDP.md byte for byte", () => {
  const bytes = encodeRequest(request, key);
  assert.equal(decoder.decode(bytes), `${EXAMPLE.signed} ${EXAMPLE.mac}`);
  assert.equal(bytes.length, 144);
  const reply = encodeSignedReply(
    { principal: "hall-sensor", id: "7", status: "ok", text: "hall-sensor temperature=21.4" },
    key,
  )!;
  assert.equal(decoder.decode(reply), `${EXAMPLE.replySigned} ${EXAMPLE.replyMac}`);
});

Deno.test("the worked example's MACs match Python's hmac module (an independent implementation)", async () => {
  const script = [
    "import hmac, hashlib, sys",
    "key = bytes.fromhex(sys.argv[1])",
    "for text in sys.argv[2:]:",
    "    print(hmac.new(key, text.encode(), hashlib.sha256).hexdigest())",
  ].join("\n");
  const output = await new Deno.Command("python3", {
    args: ["-c", script, EXAMPLE.keyHex, EXAMPLE.signed, EXAMPLE.replySigned],
    stdout: "piped",
  }).output();
  assert.equal(output.code, 0);
  assert.deepEqual(decoder.decode(output.stdout).trim().split("\n"), [
    EXAMPLE.mac,
    EXAMPLE.replyMac,
  ]);
});

Deno.test("decodeRequest() reads every field back and the MAC verifies only with the right key", () => {
  const decoded = decodeRequest(encodeRequest(request, key));
  assert.ok(decoded.ok);
  assert.equal(decoded.value.principal, "hall-sensor");
  assert.equal(decoded.value.timestamp, 1767225600);
  assert.equal(decoded.value.nonce, "00000000000000a1");
  assert.equal(decoded.value.id, "7");
  assert.equal(decoded.value.kind, "rpt");
  assert.equal(decoded.value.body, "hall-sensor temperature 21.4");
  assert.equal(decoder.decode(decoded.value.signed), EXAMPLE.signed);
  assert.ok(verifyRequest(decoded.value, key));
  assert.ok(!verifyRequest(decoded.value, signingKeyFromHex("ff".repeat(32))!));
});

Deno.test("a body with spaces and UTF-8 round-trips, and one flipped byte breaks the MAC", () => {
  const bytes = encodeRequest({ ...request, kind: "cmd", body: "thermostat set 21.5 °C" }, key);
  const decoded = decodeRequest(bytes);
  assert.ok(decoded.ok);
  assert.equal(decoded.value.body, "thermostat set 21.5 °C");
  assert.ok(verifyRequest(decoded.value, key));
  const tampered = bytes.slice();
  tampered[30] = tampered[30]! ^ 0x01;
  const again = decodeRequest(tampered);
  assert.ok(again.ok);
  assert.ok(!verifyRequest(again.value, key));
});

Deno.test("decodeRequest() names the specific reason a datagram is malformed", () => {
  const mac = "0".repeat(64);
  const cases: [Uint8Array, string][] = [
    [new Uint8Array([0xff, 0xfe, 0x00]), "not_utf8"],
    [encoder.encode("HUB1 a\n1 2"), "control_bytes"],
    [encoder.encode("lamp on"), "not_signed_format"],
    [encoder.encode("HUB1 admin 1 00000000 1 cmd lamp on abc"), "bad_mac_field"],
    [encoder.encode(`HUB1 admin 1 00000000 ${mac}`), "missing_fields"],
    [encoder.encode(`HUB1 Admin! 1 00000000 1 cmd lamp ${mac}`), "bad_principal"],
    [encoder.encode(`HUB1 admin -5 00000000 1 cmd lamp ${mac}`), "bad_timestamp"],
    [encoder.encode(`HUB1 admin 1 xyz 1 cmd lamp ${mac}`), "bad_nonce"],
    [encoder.encode(`HUB1 admin 1 00000000 1.2 cmd lamp ${mac}`), "bad_id"],
    [encoder.encode(`HUB1 admin 1 00000000 1 run lamp ${mac}`), "bad_kind"],
    [encoder.encode(`HUB1 admin 1 00000000 1 cmd  lamp ${mac}`), "bad_body"],
  ];
  for (const [bytes, reason] of cases) {
    const decoded = decodeRequest(bytes);
    assert.ok(!decoded.ok, `accepted ${decoder.decode(bytes)}`);
    assert.equal(decoded.reason, reason, decoder.decode(bytes));
  }
});

Deno.test("encodeUnsignedReply() is never larger than its limit and gives up below the minimum", () => {
  const reply = {
    code: "unauthenticated" as const,
    id: "42",
    message: "Unknown principal or bad signature",
  };
  for (let limit = 0; limit < 80; limit++) {
    const bytes = encodeUnsignedReply(reply, limit);
    if (limit < "HUB1E unauthenticated".length) assert.equal(bytes, undefined);
    else {
      assert.ok(bytes !== undefined && bytes.length <= limit, `limit ${limit}`);
      assert.ok(decoder.decode(bytes).startsWith("HUB1E unauthenticated"));
    }
  }
});

Deno.test("encodeSignedReply() cuts the text to fit and the cut reply still verifies", () => {
  const reply = {
    principal: "admin",
    id: "42",
    status: "forbidden" as const,
    text: "é".repeat(80),
  };
  const full = encodeSignedReply(reply, key)!;
  const cut = encodeSignedReply(reply, key, 120)!;
  assert.ok(full.length > 120);
  assert.ok(cut.length <= 120);
  const decoded = decodeReply(cut, key);
  assert.equal(decoded.signed, true);
  assert.ok(decoded.signed && decoded.reply.status === "forbidden" && decoded.reply.id === "42");
  assert.equal(encodeSignedReply(reply, key, 60), undefined);
  // A reply signed with another key is not trusted.
  assert.equal(decodeReply(full, signingKeyFromHex("ab".repeat(32))).signed, null);
});

Deno.test("encodeSignedReply() gives the same bytes when the reply just fits as with no limit, and cuts one byte below", () => {
  const reply = { principal: "admin", id: "9", status: "ok" as const, text: "lamp on=true\tx é  " };
  const free = encodeSignedReply(reply, key)!;
  assert.equal(
    decoder.decode(free).slice(0, -65),
    "HUB1R admin 9 ok lamp on=true?x é",
    "control characters replaced, trailing spaces dropped",
  );
  assert.deepEqual(encodeSignedReply(reply, key, free.length), free);
  const cut = encodeSignedReply(reply, key, free.length - 1)!;
  assert.ok(cut.length <= free.length - 1);
  assert.equal(decoder.decode(cut).slice(0, -65), "HUB1R admin 9 ok lamp on=true?x");
  assert.equal(decodeReply(cut, key).signed, true);
});

Deno.test("truncateUtf8() never splits a multi-byte character", () => {
  assert.equal(truncateUtf8("aé€z", 2), "a");
  assert.equal(truncateUtf8("aé€z", 3), "aé");
  assert.equal(truncateUtf8("aé€z", 5), "aé");
  assert.equal(truncateUtf8("aé€z", 6), "aé€");
});

Deno.test("parseReadingBody() reads device, metric and value; a missing value is a press", () => {
  assert.deepEqual(parseReadingBody("hall-sensor temperature 21.4"), {
    ok: true,
    value: { device: "hall-sensor", metric: "temperature", value: "21.4" },
  });
  assert.deepEqual(parseReadingBody("hall-button press"), {
    ok: true,
    value: { device: "hall-button", metric: "press", value: "true" },
  });
  const bad = parseReadingBody("hall-sensor");
  assert.ok(!bad.ok && bad.error.code === "malformed");
  assert.ok(!parseReadingBody("hall-sensor Temp! 1").ok);
});

Deno.test("ReplayCache refuses a nonce seen inside the window and forgets it after", () => {
  const cache = new ReplayCache({ capacity: 100, windowSeconds: 30 });
  assert.equal(cache.check("a", "00000001", 1000, 1000), "fresh");
  assert.equal(cache.check("a", "00000001", 1000, 1010), "replayed");
  assert.equal(cache.check("b", "00000001", 1000, 1010), "fresh", "nonces are per principal");
  assert.equal(cache.check("a", "00000002", 1040, 1040), "fresh");
  assert.equal(cache.size, 1, "entries older than the window expired");
  cache.forget("a", "00000002");
  assert.equal(cache.check("a", "00000002", 1040, 1040), "fresh", "a forgotten nonce is fresh");
});

Deno.test("ReplayCache expires once per hub second: entries of that second stay refused, older ones go at the next second", () => {
  const cache = new ReplayCache({ capacity: 100, windowSeconds: 30 });
  // Many checks in one second: each nonce is refused the second time, whatever the order.
  for (let i = 0; i < 20; i++) assert.equal(cache.check("a", `1000000${i}`, 971, 1001), "fresh");
  for (let i = 0; i < 20; i++) assert.equal(cache.check("a", `1000000${i}`, 971, 1001), "replayed");
  assert.equal(cache.size, 20);
  // Still at the window's edge one check later in the same second.
  assert.equal(cache.check("a", "20000000", 1001, 1001), "fresh");
  assert.equal(cache.size, 21);
  // The next second moves the window: the entries stamped 971 leave it at the first check.
  assert.equal(cache.check("a", "20000001", 1002, 1002), "fresh");
  assert.equal(cache.size, 2);
  assert.equal(cache.check("a", "20000000", 1001, 1002), "replayed");
});

Deno.test("ReplayCache stays bounded when full and then refuses what it can no longer tell apart", () => {
  const cache = new ReplayCache({ capacity: 3, windowSeconds: 30 });
  for (let i = 0; i < 10; i++) {
    assert.equal(cache.check("a", `0000000${i}`, 1000 + i, 1010), "fresh");
    assert.ok(cache.size <= 3);
  }
  assert.equal(cache.evictions, 7);
  // Nonce 0 was evicted; its timestamp is below the floor, so its replay is still refused.
  assert.equal(cache.check("a", "00000000", 1000, 1010), "below_floor");
  assert.equal(cache.check("a", "0000000a", 1020, 1020), "fresh");
  assert.equal(cache.check("b", "00000000", 1000, 1010), "fresh", "floors are per principal");
});

Deno.test("ReplayCache - a flood of 100 000 new nonces stays at its bound and still refuses replays", () => {
  const cache = new ReplayCache({ capacity: 10_000, windowSeconds: 1_000_000 });
  for (let i = 0; i < 100_000; i++) {
    assert.equal(cache.check("flood", `n${i}`, 1000 + i, 1000 + i), "fresh");
  }
  assert.equal(cache.size, 10_000);
  assert.equal(cache.evictions, 90_000);
  assert.equal(cache.check("flood", "n99999", 100_999, 101_000), "replayed", "a recent nonce");
  assert.equal(cache.check("flood", "n5", 1005, 101_000), "below_floor", "an evicted nonce");
  assert.equal(cache.check("other", "n5", 1005, 101_000), "fresh", "another principal");
});

Deno.test("ReplyCache - a flood of 100 000 replies stays at its bound and keeps pending entries", () => {
  const cache = new ReplyCache({ capacity: 1000, ttlSeconds: 30 });
  const reply = encoder.encode("r");
  cache.begin("a", "pending-1", "cmd lamp on");
  for (let i = 0; i < 100_000; i++) {
    cache.complete("b", String(i), { fingerprint: "f", reply, address: "x:1", nowSeconds: 0 });
  }
  assert.equal(cache.size, 1001, "1 000 replies and the pending entry");
  assert.equal(cache.get("a", "pending-1", 0)?.state, "pending");
  assert.equal(cache.get("b", "99999", 0)?.state, "done");
  assert.equal(cache.get("b", "0", 0), undefined);
});

Deno.test("ReplyCache keeps pending entries, expires done ones and stays bounded", () => {
  const cache = new ReplyCache({ capacity: 2, ttlSeconds: 30 });
  cache.begin("a", "1", "cmd lamp on");
  assert.equal(cache.get("a", "1", 0)?.state, "pending");
  const reply = encoder.encode("r");
  cache.complete("a", "1", { fingerprint: "cmd lamp on", reply, address: "x:1", nowSeconds: 0 });
  cache.complete("a", "2", { fingerprint: "cmd lamp off", reply, address: "x:1", nowSeconds: 0 });
  cache.complete("a", "3", { fingerprint: "cmd lamp off", reply, address: "x:1", nowSeconds: 0 });
  assert.equal(cache.size, 2);
  assert.equal(cache.get("a", "1", 0), undefined, "the oldest was evicted");
  assert.equal(cache.get("a", "3", 10)?.state, "done");
  assert.equal(cache.get("a", "3", 31), undefined, "expired after its ttl");
});
