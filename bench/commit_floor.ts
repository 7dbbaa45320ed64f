/**
 * What one journal commit costs SQLite alone, without the hub around it: a
 * `node:sqlite` loop of single-command transactions shaped like the
 * journal's (an audit row with its two index entries, the head record and
 * the device state: five pages), and the same with only the audit row (one
 * page), in WAL mode with `synchronous = NORMAL` as the hub runs. Rounds
 * show the WAL file growing first, then reused after its checkpoints.
 *
 * Usage: `deno run --allow-read --allow-write bench/commit_floor.ts [DIR] [COMMITS]`
 * (DIR: where the database goes, default /tmp; /dev/shm leaves the disk out, and needs
 * `--allow-all`: Deno grants paths under /dev only with it).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";

/** The shape of the transaction measured. */
export type CommitShape = "journal" | "audit_row_only";

/** Microseconds per commit of each round, in order. */
export function commitCost(
  dir: string,
  shape: CommitShape,
  rounds: number,
  commitsPerRound: number,
): number[] {
  const work = Deno.makeTempDirSync({ dir, prefix: "commit_floor_" });
  const db = new DatabaseSync(join(work, "floor.db"));
  try {
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
    db.exec("PRAGMA wal_autocheckpoint = 10000"); // as persistence/database.ts
    db.exec(`CREATE TABLE log (seq INTEGER PRIMARY KEY, device TEXT, principal TEXT, body TEXT);
      CREATE TABLE head (id INTEGER PRIMARY KEY, seq INTEGER);
      CREATE TABLE state (id TEXT PRIMARY KEY, value TEXT);`);
    if (shape === "journal") {
      db.exec(`CREATE INDEX log_device ON log (device, seq);
        CREATE INDEX log_principal ON log (principal, seq);`);
    }
    const begin = db.prepare("BEGIN IMMEDIATE");
    const commit = db.prepare("COMMIT");
    const insert = db.prepare("INSERT INTO log VALUES (?, ?, ?, ?)");
    const setHead = db.prepare("INSERT OR REPLACE INTO head VALUES (1, ?)");
    const setState = db.prepare("INSERT OR REPLACE INTO state VALUES ('lamp', ?)");
    const body = "x".repeat(200);
    let seq = 0;
    const costs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      for (let i = 0; i < commitsPerRound; i++) {
        begin.run();
        insert.run(++seq, "lamp", "alice", body);
        if (shape === "journal") {
          setHead.run(seq);
          setState.run(String(seq));
        }
        commit.run();
      }
      costs.push((performance.now() - started) * 1000 / commitsPerRound);
    }
    return costs;
  } finally {
    db.close();
    Deno.removeSync(work, { recursive: true });
  }
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? "/tmp";
  const commits = Number(Deno.args[1] ?? 2000);
  if (!Number.isInteger(commits) || commits < 1) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`COMMITS must be a whole number above 0, not "${Deno.args[1]}"\n`),
    );
    Deno.exit(2);
  }
  let isFolder = false;
  try {
    isFolder = Deno.statSync(dir).isDirectory;
  } catch { /* missing or not readable: said below */ }
  if (!isFolder) {
    Deno.stderr.writeSync(new TextEncoder().encode(`DIR "${dir}" is not an existing folder\n`));
    Deno.exit(2);
  }
  for (const shape of ["journal", "audit_row_only"] as const) {
    const costs = commitCost(dir, shape, 6, commits);
    const line = `${shape} in ${dir}: ${costs.map((c) => c.toFixed(1)).join(", ")} µs per commit\n`;
    Deno.stdout.writeSync(new TextEncoder().encode(line));
  }
}
