/**
 * The UDP channel's own SHA-256 and HMAC-SHA256 (protocols/udp/sha256.ts,
 * hmac.ts): the published vectors (FIPS 180-2 examples, RFC 4231), agreement
 * with `node:crypto` on every message length across block boundaries and on
 * keys shorter than, equal to and longer than a block, and the hex check
 * refusing any changed, cut or uppercase tag.
 */
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { signingKey, verifyHmacSha256 } from "../protocols/udp/hmac.ts";
import { sha256 } from "../protocols/udp/sha256.ts";

const encoder = new TextEncoder();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** Deterministic pseudo-random bytes (no timing, no global state). */
function bytesOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

Deno.test("sha256 gives the published digests of the empty string and 'abc'", () => {
  assert.equal(
    hex(sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assert.equal(
    hex(sha256(encoder.encode("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("sha256 agrees with node:crypto for every length from 0 to 300 bytes", () => {
  for (let length = 0; length <= 300; length++) {
    const data = bytesOf(length, length);
    assert.equal(hex(sha256(data)), createHash("sha256").update(data).digest("hex"), `${length}`);
  }
});

Deno.test("HMAC-SHA256 gives the RFC 4231 tags (short key, text key, key longer than a block)", () => {
  const cases: [Uint8Array, string, string][] = [
    [
      new Uint8Array(20).fill(0x0b),
      "Hi There",
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ],
    [
      encoder.encode("Jefe"),
      "what do ya want for nothing?",
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ],
    [
      new Uint8Array(131).fill(0xaa),
      "Test Using Larger Than Block-Size Key - Hash Key First",
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ],
  ];
  for (const [raw, text, tag] of cases) {
    assert.equal(hex(signingKey(raw).sign(encoder.encode(text))), tag, text);
  }
});

Deno.test("HMAC-SHA256 agrees with node:crypto for keys of 0-200 bytes and messages of 0-300", () => {
  for (const keyLength of [0, 1, 31, 32, 63, 64, 65, 200]) {
    const raw = bytesOf(keyLength, 1000 + keyLength);
    const key = signingKey(raw);
    for (let length = 0; length <= 300; length += 7) {
      const data = bytesOf(length, length);
      const expected = createHmac("sha256", raw).update(data).digest("hex");
      assert.equal(hex(key.sign(data)), expected, `key ${keyLength}, data ${length}`);
      // A reused key gives the same tag again (its prepared states are not disturbed).
      assert.equal(hex(key.sign(data)), expected);
    }
  }
});

Deno.test("the hex check accepts the exact lowercase tag and refuses any other", () => {
  const key = signingKey(bytesOf(32, 7));
  const data = encoder.encode("HUB1 admin 1767225600 00000000000000a1 7 cmd lamp on");
  const tag = hex(key.sign(data));
  const out = new Uint8Array(70);
  key.signHexInto(data, out, 3);
  assert.equal(new TextDecoder().decode(out.subarray(3, 67)), tag);
  assert.ok(key.verifyHex(data, encoder.encode(tag)));
  for (let i = 0; i < 64; i++) {
    const changed = encoder.encode(tag);
    changed[i] = changed[i] === 0x30 ? 0x31 : 0x30;
    assert.ok(!key.verifyHex(data, changed), `digit ${i}`);
  }
  assert.match(tag, /[a-f]/);
  assert.ok(!key.verifyHex(data, encoder.encode(tag.toUpperCase())));
  assert.ok(!key.verifyHex(data, encoder.encode(tag.slice(0, 62))));
  assert.ok(!key.verifyHex(encoder.encode("other"), encoder.encode(tag)));
  assert.ok(!signingKey(bytesOf(32, 8)).verifyHex(data, encoder.encode(tag)));
  assert.ok(verifyHmacSha256(key, data, key.sign(data)));
  assert.ok(!verifyHmacSha256(key, data, key.sign(data).subarray(0, 31)));
});
