/**
 * Summarises a V8 CPU profile written by `deno task bench --profile DIR`:
 * the share of the hub's busy time (idle excluded) spent in SQLite's native
 * calls made by the journal and the audit store, the share in BEGIN/COMMIT
 * alone, the top functions by self time, and the hub's own stages by
 * inclusive time (a function's share counts everything it called).
 *
 * Usage: `deno run --allow-read bench/profile_summary.ts DIR/CPU.*.cpuprofile`
 *
 * @module
 */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const IDLE = new Set(["(idle)", "(program)", "(garbage collector)"]);

/** The hub's stages reported by inclusive time: [label, file, function]. */
const STAGES: readonly (readonly [string, string, string])[] = [
  ["journal commit (SQLite + hashing)", "journal.ts", "commit"],
  ["  audit rows inserted and hashed", "audit_store.ts", "appendInTransaction"],
  ["  entry hashing", "audit_store.ts", "hashOfFields"],
  ["device actor batch (decide + commit + answer)", "device_actor.ts", "handleMany"],
  ["audit actor commits (logins, refusals)", "audit_actor.ts", "writeBatch"],
  ["TLS: a session's read loop (frames, parse, ask)", "tls_session.ts", "#readLoop"],
  ["TLS: replies written", "tls_output.ts", "#writeLoop"],
  ["TLS: handshakes", "tls_listener.ts", "#handshake"],
  ["TLS: login checks", "tls_login.ts", "checkLogin"],
  ["command path (ask, refusal audit)", "command_path.ts", "run"],
  ["UDP: signed datagrams", "udp_signed.ts", ""],
  ["UDP: compatibility datagrams", "udp_plain.ts", ""],
];
const STORES = new Set(["journal.ts", "audit_store.ts", "device_store.ts", "database.ts"]);
const NATIVE = new Set(["run", "exec", "get", "all", "prepare", ""]);

/** Busy time, SQLite share and top functions of one profile. */
export function summarise(profile: CpuProfile): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + profile.timeDeltas[i]!));
  const file = (url: string) => url.split("/").at(-1) ?? "";
  const stack = (id: number): CallFrame[] => {
    const out: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (!node) break;
      out.push(node.callFrame);
    }
    return out;
  };
  let busy = 0, sqlite = 0, commits = 0;
  const top = new Map<string, number>();
  for (const [id, us] of self) {
    const frames = stack(id);
    const leaf = frames[0]!;
    if (IDLE.has(leaf.functionName)) continue;
    busy += us;
    const key = `${leaf.functionName || "(anonymous)"} ${file(leaf.url)}`.trim();
    top.set(key, (top.get(key) ?? 0) + us);
    const near = frames.slice(1, 4).map((f) => file(f.url));
    if (NATIVE.has(leaf.functionName) && near.some((f) => STORES.has(f))) sqlite += us;
    if (leaf.functionName === "exec" && near.includes("database.ts")) commits += us;
  }
  const pct = (us: number) => `${(100 * us / busy).toFixed(1)} %`;
  const total = profile.timeDeltas.reduce((a, b) => a + b, 0);
  const lines = [
    `busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s; SQLite ${
      pct(sqlite)
    } of it; BEGIN/COMMIT ${pct(commits)}`,
    "top functions by self time:",
    ...[...top].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, us]) => `${pct(us)}  ${k}`),
    "hub stages by inclusive time:",
    ...inclusive(profile, stack).map(([label, us]) => `${pct(us)}  ${label}`),
  ];
  return lines.join("\n");
}

/** Each stage's inclusive time: the samples with a frame of that stage anywhere on the stack. */
function inclusive(
  profile: CpuProfile,
  stack: (id: number) => CallFrame[],
): [string, number][] {
  const sums = STAGES.map(() => 0);
  profile.samples.forEach((id, i) => {
    const frames = stack(id);
    STAGES.forEach(([, file, fn], k) => {
      const hit = frames.some((f) =>
        (file === "" || f.url.endsWith(`/${file}`)) && (fn === "" || f.functionName === fn)
      );
      if (hit) sums[k]! += profile.timeDeltas[i]!;
    });
  });
  return STAGES.map(([label], k): [string, number] => [label, sums[k]!])
    .filter(([, us]) => us > 0);
}

if (import.meta.main) {
  for (const path of Deno.args) {
    const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
    // deno-lint-ignore no-console
    console.log(`${path}\n${summarise(profile)}\n`);
  }
}
