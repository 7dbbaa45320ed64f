/**
 * Who may use the file store and how: the seed's FTP user (`elradfmw` in
 * UPLOAD_FOLDER) and every principal of the home file whose channels
 * include `ftp`. Built once from the config; the storage actor and the FTP
 * server both read it.
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import type { StoragePermission } from "../broker/messages.ts";
import { parseHomeFolder, type PathComponents } from "./storage_paths.ts";

/** One storage user: home, permissions, quotas, retention. */
export interface StorageUser {
  readonly principal: string;
  /** Home below UPLOAD_FOLDER, as checked components (empty for the root). */
  readonly home: PathComponents;
  readonly permissions: ReadonlySet<StoragePermission>;
  /** 0 means no quota. */
  readonly quotaBytes: number;
  /** 0 means no quota. */
  readonly quotaFiles: number;
  /** Store uploads into `YYYY-MM-DD/` folders (cameras). */
  readonly perDayFolders: boolean;
  /** Delete files older than this many days (0 = keep). */
  readonly retentionDays: number;
  /** Keep at most this many newest files (0 = unlimited). */
  readonly retentionFiles: number;
  /** The camera device this principal is, when it is one. */
  readonly device: string | null;
}

/** The seed user's permissions (pyftpdlib letters). */
export const SEED_PERMISSIONS = "elradfmw";

/** Builds the storage users from the config; throws on an invalid home (config is validated, so a bug). */
export function storageUsersFromConfig(config: Config): Map<string, StorageUser> {
  const users = new Map<string, StorageUser>();
  users.set(
    config.settings.FTP_USERNAME,
    makeUser(config.settings.FTP_USERNAME, "", SEED_PERMISSIONS),
  );
  for (const principal of config.home.principals) {
    if (!principal.channels.includes("ftp") || !principal.ftp) continue;
    const ftp = principal.ftp;
    const camera = principal.kind === "camera" && principal.device !== undefined;
    users.set(principal.id, {
      ...makeUser(principal.id, ftp.home, ftp.permissions),
      quotaBytes: ftp.quotaBytes ?? 0,
      quotaFiles: ftp.quotaFiles ?? 0,
      perDayFolders: ftp.perDayFolders ?? false,
      retentionDays: ftp.retentionDays ?? 0,
      retentionFiles: ftp.retentionFiles ?? 0,
      device: camera ? principal.device ?? null : null,
    });
  }
  return users;
}

function makeUser(principal: string, home: string, letters: string): StorageUser {
  const parsed = parseHomeFolder(home);
  if (!parsed.ok) throw new Error(`Invalid FTP home of ${principal}: ${parsed.error.message}`);
  return {
    principal,
    home: parsed.components,
    permissions: new Set(letters.split("") as StoragePermission[]),
    quotaBytes: 0,
    quotaFiles: 0,
    perDayFolders: false,
    retentionDays: 0,
    retentionFiles: 0,
    device: null,
  };
}
