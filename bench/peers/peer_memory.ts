/**
 * Resident memory of a peer process that cannot report it itself
 * (Mosquitto): Deno asks for --allow-all to read another process's
 * /proc/<pid>/status, so /usr/bin/python3 reads it.
 *
 * @module
 */

/** The Python the peers run with (Debian's, which has pyftpdlib). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

/** VmRSS and VmHWM of `pid` in MiB; NaN when unreadable. */
export async function peerMemory(pid: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const script =
    `import sys\nf={l.split(':')[0]:l.split()[1] for l in open('/proc/${pid}/status') if l.startswith('Vm')}\n` +
    `print(int(f['VmRSS'])/1024, int(f['VmHWM'])/1024)`;
  try {
    const out = await new Deno.Command(SYSTEM_PYTHON, { args: ["-c", script], stderr: "null" })
      .output();
    const [rss, hwm] = new TextDecoder().decode(out.stdout).trim().split(" ").map(Number);
    return { rssMiB: rss ?? Number.NaN, peakMiB: hwm ?? Number.NaN };
  } catch {
    return { rssMiB: Number.NaN, peakMiB: Number.NaN };
  }
}
