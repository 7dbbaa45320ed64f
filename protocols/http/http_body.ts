/**
 * Reads a request's JSON body with a cap: a declared length over the cap is
 * refused before reading, and a chunked body is counted while read and
 * dropped as soon as it passes the cap.
 *
 * @module
 */
import type { Refusal } from "../../broker/messages.ts";

/** Reads a JSON body of at most `maxBytes`; the value, or the refusal. */
export async function readJsonBody(
  request: Request,
  maxBytes: number,
): Promise<{ ok: true; value: unknown } | { ok: false; error: Refusal }> {
  const tooLarge = {
    ok: false as const,
    error: { code: "too_large" as const, message: `Request body over ${maxBytes} bytes` },
  };
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > maxBytes) return tooLarge;
  if (request.body === null) {
    return { ok: false, error: { code: "malformed", message: "A JSON body is required" } };
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return tooLarge;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) (bytes.set(chunk, offset), offset += chunk.byteLength);
  try {
    return { ok: true, value: JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) };
  } catch {
    return {
      ok: false,
      error: { code: "malformed", message: "The body is not valid JSON (UTF-8)" },
    };
  }
}
