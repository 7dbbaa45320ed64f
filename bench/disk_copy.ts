/**
 * The FTP baseline: writing the same bytes to files on the same disk, in
 * 64 KiB writes as a network receiver would, with `workers` writers at once.
 *
 * @module
 */
import { join } from "node:path";

/** Options for {@linkcode diskCopyRate}. */
export interface CopyOptions {
  readonly fileBytes: number;
  readonly files: number;
  readonly workers: number;
  /** fsync each file before closing it (match the hub's storage when it does). */
  readonly fsync: boolean;
}

/** Writes `files` files of `fileBytes` under `dir`; returns MB/s (10^6 bytes). */
export async function diskCopyRate(dir: string, options: CopyOptions): Promise<number> {
  const chunk = new Uint8Array(64 * 1024);
  crypto.getRandomValues(chunk);
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < options.files) {
      const path = join(dir, `copy_${next++}.bin`);
      const file = await Deno.open(path, { write: true, create: true, truncate: true });
      try {
        let left = options.fileBytes;
        while (left > 0) {
          const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
          let written = 0;
          while (written < part.length) written += await file.write(part.subarray(written));
          left -= part.length;
        }
        if (options.fsync) await file.sync();
      } finally {
        file.close();
      }
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  const seconds = (performance.now() - start) / 1000;
  for (let i = 0; i < options.files; i++) await Deno.remove(join(dir, `copy_${i}.bin`));
  return (options.fileBytes * options.files) / 1e6 / seconds;
}
