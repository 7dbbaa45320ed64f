/**
 * A camera's latest snapshot, for readers that are not the camera (the web
 * page and the HTTP API, issue 12): the storage actor finds the newest file
 * the camera's principal stored (from the file index, never from a path a
 * client sent), checks it is still a regular file inside the camera's home
 * after symlinks, as every FTP path is, and registers a read ticket: the
 * reader streams the bytes through the storage side's byte interface, and no
 * path crosses the broker.
 *
 * @module
 */
import fs from "node:fs";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { Outcome, StorageSnapshotTicket } from "../broker/messages.ts";
import { isInside } from "../domain/storage_paths.ts";
import type { StorageUser } from "../domain/storage_users.ts";
import type { StorageByteStore } from "./storage_bytes.ts";

/** What {@linkcode openSnapshot} needs of the storage actor's state. */
export interface SnapshotSource {
  readonly db: DatabaseSync;
  /** realpath of UPLOAD_FOLDER. */
  readonly root: string;
  readonly users: ReadonlyMap<string, StorageUser>;
}

/** Opens the newest snapshot stored by the camera `device`, or says why there is none. */
export function openSnapshot(
  source: SnapshotSource,
  bytes: Pick<StorageByteStore, "registerRead">,
  device: string,
): Outcome<StorageSnapshotTicket> {
  const none: Outcome<never> = {
    ok: false,
    error: { code: "not_found", message: `No snapshot of ${device}` },
  };
  const camera = [...source.users.values()].find((u) => u.device === device);
  if (camera === undefined) return none;
  const row = source.db.prepare(
    `SELECT path, size, sha256, stored_at AS storedAt FROM file_index WHERE owner = ?
     ORDER BY stored_at DESC, path DESC LIMIT 1`,
  ).get(camera.principal) as
    | { path: string; size: number; sha256: string; storedAt: string }
    | undefined;
  if (row === undefined) return none;
  const home = safeRealpath(join(source.root, ...camera.home));
  const real = safeRealpath(join(source.root, ...row.path.split("/")));
  if (home === undefined || real === undefined || !isInside(home, real)) {
    return none;
  }
  const stat = fs.statSync(real);
  if (!stat.isFile()) return none;
  return {
    ok: true,
    value: {
      path: row.path,
      readId: bytes.registerRead(real),
      size: stat.size,
      sha256: row.sha256,
      storedAt: row.storedAt,
    },
  };
}

function safeRealpath(path: string): string | undefined {
  try {
    return fs.realpathSync(path);
  } catch {
    return undefined;
  }
}
