/**
 * How the hub process is run, beyond its permissions: V8 flags and glibc
 * malloc settings that bound its memory. One list, used by the launcher
 * (`deno task start`), `deno task compile` (baked into the binary) and the
 * benchmark, so the benchmark measures the process users run.
 *
 * Measured on the 2-core machine (README "Memory"): V8 lets its young
 * generation grow to 16 MiB semi-spaces under load and keeps them; with
 * 1 000 idle TLS sessions that garbage alone is about 25 MiB. A smaller
 * cap costs throughput (more scavenges), so the cap is a middle value.
 *
 * @module
 */

/** V8 flags of the hub process. */
export const HUB_V8_FLAGS: readonly string[] = ["--max-semi-space-size=4"];

/**
 * Memory settings of the hub process's environment, each overridable by the
 * same variable in the launcher's own environment.
 *
 * `MALLOC_MMAP_THRESHOLD_`: glibc raises its mmap threshold after a large
 * block (scrypt's 16 MiB) is freed and then keeps such blocks in the heap
 * for good (about 18 MiB); a fixed threshold returns them at `free`.
 *
 * `DENO_USR2_MEMORY_TRIM=1`: Deno answers `SIGUSR2` with `malloc_trim(0)` and a
 * V8 low-memory GC; the hub sends it to itself once it goes quiet after work
 * (`observability/memory_trim.ts`).
 */
export const HUB_MEMORY_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: "131072",
  DENO_USR2_MEMORY_TRIM: "1",
};

/** The `deno run`/`deno compile` flags that apply {@linkcode HUB_V8_FLAGS}. */
export function runtimeFlags(): string[] {
  return HUB_V8_FLAGS.length === 0 ? [] : [`--v8-flags=${HUB_V8_FLAGS.join(",")}`];
}

/**
 * The memory variables for the hub process: {@linkcode HUB_MEMORY_ENV}, where
 * `own` (the caller's environment) does not set them itself.
 */
export function runtimeEnv(own: (name: string) => string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(HUB_MEMORY_ENV)) env[name] = own(name) ?? value;
  return env;
}
