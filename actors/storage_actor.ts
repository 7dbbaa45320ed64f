/**
 * The storage actor: owns the file namespace under UPLOAD_FOLDER and the
 * file index. Every FTP file operation is a request to it (plain JSON), so
 * it alone decides what a user may see and change: path confinement
 * (symlinks checked with `realpath`), permissions, quotas, atomic uploads
 * (temporary file, then rename into place, then index and announce) and
 * retention.
 *
 * Consumes: `storage.*` requests. Emits: `storage.file_stored`, and
 * `device.snapshot_stored` when a camera stored a file; retention deletions
 * are appended to the audit log.
 *
 * @module
 */
import fs from "node:fs";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type {
  Message,
  Outcome,
  Refusal,
  StorageEntry,
  StoragePermission,
  StorageRetentionReport,
  StorageUploadTicket,
  StoredFile,
} from "../broker/messages.ts";
import { createMessage } from "../broker/envelope.ts";
import { openDatabase, type SyncMode } from "../persistence/database.ts";
import { FileIndexStore } from "../persistence/file_index_store.ts";
import {
  isInside,
  parseVirtualPath,
  PARTIAL_FOLDER,
  type PathComponents,
  toVirtualPath,
} from "../domain/storage_paths.ts";
import type { ActorBehaviour, ActorContext, Handled } from "./actor.ts";
import type { StorageUser } from "./storage_users.ts";
import { openSnapshot } from "./storage_snapshot.ts";
import type { PrincipalDeclaration } from "../config/home.ts";
import { getLogger } from "../observability/logger.ts";

const log = getLogger("storage");

/** The request kinds the storage actor answers. */
export const STORAGE_TOPICS = [
  "storage.stat",
  "storage.list",
  "storage.open_read",
  "storage.begin_upload",
  "storage.commit_upload",
  "storage.abort_upload",
  "storage.delete",
  "storage.rename",
  "storage.mkdir",
  "storage.rmdir",
  "storage.apply_retention",
  "storage.open_snapshot",
  "config.principals_changed",
] as const;

type StorageTopic = (typeof STORAGE_TOPICS)[number];

/** Options for {@linkcode createStorageActor}. */
export interface StorageActorOptions {
  readonly databasePath: string;
  readonly sync: SyncMode;
  /** UPLOAD_FOLDER, absolute. */
  readonly root: string;
  readonly users: ReadonlyMap<string, StorageUser>;
  /** The storage users for reloaded principals (SIGHUP); throws when a home folder is invalid. */
  readonly usersFor?: (
    principals: readonly PrincipalDeclaration[],
  ) => ReadonlyMap<string, StorageUser>;
  /** Largest file one upload may write (0 = no limit). */
  readonly maxFileBytes: number;
}

/** An upload between begin and commit/abort. */
interface PendingUpload {
  readonly owner: string;
  readonly tempPath: string;
  readonly fsPath: string;
  readonly relPath: string;
  readonly virtualPath: string;
  readonly maxBytes: number;
}

/** The storage actor's state. */
export interface StorageState {
  readonly db: DatabaseSync;
  readonly index: FileIndexStore;
  /** realpath of UPLOAD_FOLDER. */
  readonly root: string;
  readonly partial: string;
  readonly uploads: Map<string, PendingUpload>;
  /** Who may do what, by principal; replaced when principals are reloaded. */
  users: ReadonlyMap<string, StorageUser>;
}

/** A path resolved for one user. */
interface Resolved {
  readonly components: PathComponents;
  readonly virtualPath: string;
  readonly fsPath: string;
  /** Relative to UPLOAD_FOLDER, `/` separators (the file index key). */
  readonly relPath: string;
  readonly stat: fs.Stats | undefined;
}

const DAY_MS = 86_400_000;

/** What `crypto.randomUUID` hands out as upload ids. */
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Creates the storage actor's behaviour. */
export function createStorageActor(
  options: StorageActorOptions,
): ActorBehaviour<StorageState, StorageTopic> {
  let firstStart = true;
  return {
    name: "storage",
    consumes: STORAGE_TOPICS,
    init() {
      fs.mkdirSync(options.root, { recursive: true });
      const root = fs.realpathSync(options.root);
      const partial = join(root, PARTIAL_FOLDER);
      // Uploads in progress died with the previous run: remove them at the first start only.
      // After a restart (a bug in a handler), the other users' uploads go on.
      if (firstStart) fs.rmSync(partial, { recursive: true, force: true });
      firstStart = false;
      fs.mkdirSync(partial, { recursive: true, mode: 0o700 });
      for (const user of options.users.values()) {
        fs.mkdirSync(join(root, ...user.home), { recursive: true });
      }
      const db = openDatabase(options.databasePath, { sync: options.sync });
      return {
        db,
        index: new FileIndexStore(db),
        root,
        partial,
        uploads: new Map(),
        users: options.users,
      };
    },
    handle(state, message, ctx) {
      if (message.type === "config.principals_changed") {
        reloadUsers(state, options, message.payload.principals);
        return { state };
      }
      let reply: Outcome<unknown>;
      try {
        reply = dispatch(state, message, options, ctx);
      } catch (error) {
        // A file system error is the disk's answer, not a bug: refuse, do not crash the actor.
        const refusal = fsRefusal(error);
        if (!refusal) throw error;
        reply = refusal;
      }
      return { state, reply } as Handled<StorageState, StorageTopic>;
    },
    terminate(state) {
      for (const upload of state.uploads.values()) removeQuietly(upload.tempPath);
      state.uploads.clear();
      state.db.close();
    },
  };
}

/** Takes the storage users of reloaded principals; keeps the old ones when the new are invalid. */
function reloadUsers(
  state: StorageState,
  options: StorageActorOptions,
  principals: readonly PrincipalDeclaration[],
): void {
  if (!options.usersFor) return;
  try {
    state.users = options.usersFor(principals);
    for (const user of state.users.values()) {
      fs.mkdirSync(join(state.root, ...user.home), { recursive: true });
    }
  } catch (error) {
    log.error("Reloaded principals not taken by storage: {error}", {
      error: (error as Error).message,
    });
  }
}

function dispatch(
  state: StorageState,
  message: Message<Exclude<StorageTopic, "config.principals_changed">>,
  options: StorageActorOptions,
  ctx: ActorContext,
): Outcome<unknown> {
  if (message.type === "storage.apply_retention") {
    return ok(applyRetention(state, ctx, message.source.principal));
  }
  if (message.type === "storage.open_snapshot") return openSnapshot(state, message.payload.device);
  const principal = message.source.principal;
  const user = principal === null ? undefined : state.users.get(principal);
  if (!user) return refuse("unauthenticated", "Not logged in as a storage user");
  const ops = new Operations(state, user, options, ctx);
  switch (message.type) {
    case "storage.stat":
      return ops.stat(message.payload.path, message.payload.purpose);
    case "storage.list":
      return ops.list(message.payload.path);
    case "storage.open_read":
      return ops.openRead(message.payload.path);
    case "storage.begin_upload":
      return ops.beginUpload(message.payload.path, message.payload.append);
    case "storage.commit_upload":
      return ops.commit(message.payload.uploadId, message.payload.size, message.payload.sha256);
    case "storage.abort_upload":
      return ops.abort(message.payload.uploadId);
    case "storage.delete":
      return ops.remove(message.payload.path, "file");
    case "storage.rmdir":
      return ops.remove(message.payload.path, "dir");
    case "storage.rename":
      return ops.rename(message.payload.from, message.payload.to);
    case "storage.mkdir":
      return ops.mkdir(message.payload.path);
  }
}

/** The operations of one user, on the actor's state. */
class Operations {
  readonly #state: StorageState;
  readonly #user: StorageUser;
  readonly #options: StorageActorOptions;
  readonly #ctx: ActorContext;
  readonly #home: string;

  constructor(
    state: StorageState,
    user: StorageUser,
    options: StorageActorOptions,
    ctx: ActorContext,
  ) {
    this.#state = state;
    this.#user = user;
    this.#options = options;
    this.#ctx = ctx;
    this.#home = join(state.root, ...user.home);
  }

  stat(path: string, purpose: "cwd" | "info" | "rename"): Outcome<StorageEntry> {
    const resolved = this.#resolve(path);
    if (!resolved.ok) return resolved;
    const r = resolved.value;
    // Every user may go back to its home, even one without `e` (cameras often `CWD /`).
    if (!(purpose === "cwd" && r.components.length === 0)) {
      const letter = purpose === "cwd" ? "e" : purpose === "info" ? "l" : "f";
      const denied = this.#need(letter);
      if (denied) return denied;
    }
    if (!r.stat) return notFound(r.virtualPath);
    if (purpose === "cwd" && !r.stat.isDirectory()) {
      return refuse("not_found", `Not a folder: ${r.virtualPath}`);
    }
    return ok(entryOf(r.virtualPath, r.stat));
  }

  list(path: string): Outcome<readonly StorageEntry[]> {
    const denied = this.#need("l");
    if (denied) return denied;
    const resolved = this.#resolve(path);
    if (!resolved.ok) return resolved;
    const r = resolved.value;
    if (!r.stat) return notFound(r.virtualPath);
    if (!r.stat.isDirectory()) return ok([entryOf(r.virtualPath, r.stat)]);
    const entries: StorageEntry[] = [];
    for (const name of fs.readdirSync(r.fsPath).sort()) {
      if (name === PARTIAL_FOLDER) continue;
      const childPath = join(r.fsPath, name);
      const stat = statInside(childPath, this.#home);
      if (!stat || !(stat.isFile() || stat.isDirectory())) continue;
      entries.push(entryOf(toVirtualPath([...r.components, name]), stat));
    }
    return ok(entries);
  }

  openRead(path: string): Outcome<{ path: string; fsPath: string; size: number }> {
    const denied = this.#need("r");
    if (denied) return denied;
    const resolved = this.#resolve(path);
    if (!resolved.ok) return resolved;
    const r = resolved.value;
    if (!r.stat) return notFound(r.virtualPath);
    if (!r.stat.isFile()) return refuse("not_found", `Not a file: ${r.virtualPath}`);
    return ok({ path: r.virtualPath, fsPath: fs.realpathSync(r.fsPath), size: r.stat.size });
  }

  beginUpload(path: string, append: boolean): Outcome<StorageUploadTicket> {
    const denied = this.#need(append ? "a" : "w");
    if (denied) return denied;
    let target = path;
    if (this.#user.perDayFolders) {
      const parsed = parseVirtualPath(path);
      if (!parsed.ok) return refuse("malformed", parsed.error.message);
      const name = parsed.components.at(-1);
      if (name === undefined) return refuse("malformed", "A file name is needed");
      const day = new Date(this.#ctx.clock.now()).toISOString().slice(0, 10);
      fs.mkdirSync(join(this.#home, day), { recursive: true });
      target = toVirtualPath([day, name]);
    }
    const resolved = this.#resolve(target);
    if (!resolved.ok) return resolved;
    const r = resolved.value;
    if (r.components.length === 0) return refuse("malformed", "A file name is needed");
    if (r.stat?.isDirectory()) return refuse("exists", `A folder has that name: ${r.virtualPath}`);
    if (r.stat && !r.stat.isFile()) return refuse("forbidden", `Not a file: ${r.virtualPath}`);
    if (!parentIsFolder(r.fsPath)) {
      return refuse("not_found", `No such folder for ${r.virtualPath}`);
    }
    const limit = this.#limit(r.relPath, !!r.stat);
    if (!limit.ok) return limit;
    const uploadId = crypto.randomUUID();
    const tempPath = join(this.#state.partial, `${uploadId}.part`);
    let offset = 0;
    if (append && r.stat) {
      fs.copyFileSync(r.fsPath, tempPath);
      offset = r.stat.size;
    }
    // Otherwise the writer creates the temporary file when it opens it (one open, not two).
    if (limit.value > 0 && offset > limit.value) {
      removeQuietly(tempPath);
      return refuse("quota_exceeded", "The file is already at its size limit");
    }
    this.#state.uploads.set(uploadId, {
      owner: this.#user.principal,
      tempPath,
      fsPath: r.fsPath,
      relPath: r.relPath,
      virtualPath: r.virtualPath,
      maxBytes: limit.value,
    });
    return ok({ uploadId, path: r.virtualPath, tempPath, offset, maxBytes: limit.value });
  }

  commit(uploadId: string, size: number, sha256: string): Outcome<StoredFile> {
    const upload = this.#state.uploads.get(uploadId);
    if (!upload || upload.owner !== this.#user.principal) {
      // Begun before a restart of this actor: the writer may have created the file since.
      if (!upload && UPLOAD_ID.test(uploadId)) {
        removeQuietly(join(this.#state.partial, `${uploadId}.part`));
      }
      return refuse("not_found", "Unknown upload (the hub may have restarted)");
    }
    this.#state.uploads.delete(uploadId);
    let actual: number;
    try {
      actual = Deno.statSync(upload.tempPath).size;
    } catch {
      return refuse("internal", "The upload's temporary file is gone");
    }
    if (actual !== size || !/^[0-9a-f]{64}$/.test(sha256)) {
      removeQuietly(upload.tempPath);
      return refuse("internal", `Upload size mismatch (${actual} on disk, ${size} received)`);
    }
    if (upload.maxBytes > 0 && size > upload.maxBytes) {
      removeQuietly(upload.tempPath);
      return refuse(
        "quota_exceeded",
        `The file is larger than the ${upload.maxBytes} bytes allowed`,
      );
    }
    if (this.#hasQuota()) {
      // Another upload may have used the quota meanwhile: check again before the rename.
      const limit = this.#limit(upload.relPath, fs.existsSync(upload.fsPath));
      if (!limit.ok || (limit.value > 0 && size > limit.value)) {
        removeQuietly(upload.tempPath);
        return limit.ok ? refuse("quota_exceeded", "Quota exceeded") : limit;
      }
    }
    if (!parentIsFolder(upload.fsPath)) {
      removeQuietly(upload.tempPath);
      return refuse("not_found", `The folder of ${upload.virtualPath} is gone`);
    }
    if (safeLstat(upload.fsPath)?.isDirectory) {
      removeQuietly(upload.tempPath);
      return refuse("exists", `${upload.virtualPath} is a folder now: nothing stored`);
    }
    try {
      fs.renameSync(upload.tempPath, upload.fsPath);
    } catch (error) {
      removeQuietly(upload.tempPath);
      throw error;
    }
    const stored: StoredFile = {
      path: upload.relPath,
      virtualPath: upload.virtualPath,
      owner: this.#user.principal,
      size,
      sha256,
      storedAt: new Date(this.#ctx.clock.now()).toISOString(),
    };
    this.#state.index.put({
      path: stored.path,
      owner: stored.owner,
      size,
      sha256,
      storedAt: stored.storedAt,
    });
    const source = { principal: this.#user.principal, channel: "ftp" } as const;
    this.#ctx.publish(createMessage("storage.file_stored", stored, source));
    if (this.#user.device !== null) {
      this.#ctx.publish(createMessage("device.snapshot_stored", {
        device: this.#user.device,
        path: stored.path,
        size,
        sha256,
      }, source));
    }
    return ok(stored);
  }

  abort(uploadId: string): Outcome<null> {
    const upload = this.#state.uploads.get(uploadId);
    if (upload && upload.owner === this.#user.principal) {
      this.#state.uploads.delete(uploadId);
      removeQuietly(upload.tempPath);
    }
    return ok(null);
  }

  remove(path: string, kind: "file" | "dir"): Outcome<StorageEntry> {
    const denied = this.#need("d");
    if (denied) return denied;
    const resolved = this.#resolve(path);
    if (!resolved.ok) return resolved;
    const r = resolved.value;
    if (r.components.length === 0) return refuse("forbidden", "Your home folder cannot be removed");
    if (!r.stat) return notFound(r.virtualPath);
    const entry = entryOf(r.virtualPath, r.stat);
    if (kind === "file") {
      if (r.stat.isDirectory()) {
        return refuse("forbidden", `Is a folder (use RMD): ${r.virtualPath}`);
      }
      fs.unlinkSync(r.fsPath);
      this.#state.index.remove(r.relPath);
    } else {
      if (!r.stat.isDirectory()) return refuse("forbidden", `Not a folder: ${r.virtualPath}`);
      if (fs.readdirSync(r.fsPath).length > 0) {
        return refuse("exists", `Folder is not empty: ${r.virtualPath}`);
      }
      fs.rmdirSync(r.fsPath);
      this.#state.index.remove(r.relPath, true);
    }
    return ok(entry);
  }

  rename(from: string, to: string): Outcome<StorageEntry> {
    const denied = this.#need("f");
    if (denied) return denied;
    const source = this.#resolve(from);
    if (!source.ok) return source;
    const target = this.#resolve(to);
    if (!target.ok) return target;
    const s = source.value;
    const t = target.value;
    if (s.components.length === 0 || t.components.length === 0) {
      return refuse("forbidden", "Your home folder cannot be renamed");
    }
    if (!s.stat) return notFound(s.virtualPath);
    if (t.stat) return refuse("exists", `Already exists: ${t.virtualPath}`);
    if (s.stat.isDirectory() && isInside(s.fsPath, t.fsPath)) {
      return refuse("forbidden", "A folder cannot be moved into itself");
    }
    if (!parentIsFolder(t.fsPath)) {
      return refuse("not_found", `No such folder for ${t.virtualPath}`);
    }
    fs.renameSync(s.fsPath, t.fsPath);
    this.#state.index.move(s.relPath, t.relPath);
    return ok(entryOf(t.virtualPath, fs.statSync(t.fsPath)));
  }

  mkdir(path: string): Outcome<StorageEntry> {
    const denied = this.#need("m");
    if (denied) return denied;
    const resolved = this.#resolve(path);
    if (!resolved.ok) return resolved;
    const r = resolved.value;
    if (r.stat) return refuse("exists", `Already exists: ${r.virtualPath}`);
    if (!parentIsFolder(r.fsPath)) {
      return refuse("not_found", `No such folder for ${r.virtualPath}`);
    }
    fs.mkdirSync(r.fsPath);
    return ok(entryOf(r.virtualPath, fs.statSync(r.fsPath)));
  }

  #hasQuota(): boolean {
    return this.#user.quotaBytes > 0 || this.#user.quotaFiles > 0;
  }

  /**
   * The most bytes a new file at `relPath` may have now (0 = no limit), or a
   * refusal when the quota is used up. `replacing`: a file is there already
   * (its bytes count as free when this user owns it).
   */
  #limit(relPath: string, replacing: boolean): Outcome<number> {
    const user = this.#user;
    let max = this.#options.maxFileBytes;
    if (this.#hasQuota()) {
      const replaced = replacing ? this.#state.index.get(relPath) : undefined;
      const replacedBytes = replaced?.owner === user.principal ? replaced.size : 0;
      const usage = this.#state.index.usage(user.principal);
      if (user.quotaFiles > 0 && !replacing && usage.files >= user.quotaFiles) {
        return refuse("quota_exceeded", `File quota reached (${user.quotaFiles} files)`);
      }
      if (user.quotaBytes > 0) {
        const left = user.quotaBytes - usage.bytes + replacedBytes;
        if (left <= 0) return refuse("quota_exceeded", `Quota reached (${user.quotaBytes} bytes)`);
        max = max === 0 ? left : Math.min(max, left);
      }
    }
    return ok(max);
  }

  #need(letter: StoragePermission): Outcome<never> | undefined {
    if (this.#user.permissions.has(letter)) return undefined;
    return refuse("forbidden", `Permission denied (${PERMISSION_NAMES[letter]} is not allowed)`);
  }

  /** Confines a virtual path to the user's home, following symlinks with realpath. */
  #resolve(path: string): Outcome<Resolved> {
    const parsed = parseVirtualPath(path);
    if (!parsed.ok) {
      return refuse(
        parsed.error.reason === "escapes_home" ? "forbidden" : "malformed",
        parsed.error.message,
      );
    }
    const components = parsed.components;
    const fsPath = join(this.#home, ...components);
    const homeReal = safeRealpath(this.#home);
    if (homeReal === undefined || !isInside(this.#state.root, homeReal)) {
      return refuse("forbidden", "Your home folder is not available");
    }
    const found = deepestExisting(this.#home, homeReal, components, fsPath);
    if (found === undefined || !isInside(homeReal, found.real)) {
      return refuse("forbidden", "Path leaves your home folder");
    }
    const { real, depth } = found;
    let stat: fs.Stats | undefined;
    if (depth === components.length) {
      stat = fs.statSync(real);
    } else if (
      !found.nextIsNoLink && isDanglingLink(join(this.#home, ...components.slice(0, depth + 1)))
    ) {
      return refuse("forbidden", "Path leaves your home folder");
    }
    const relPath = [...this.#user.home, ...components].join("/");
    return ok({ components, virtualPath: toVirtualPath(components), fsPath, relPath, stat });
  }
}

/** Where the deepest existing part of a path is (`real`), after symlinks. */
interface Deepest {
  readonly real: string;
  /** How many components of the path exist. */
  readonly depth: number;
  /** The component after `depth` is known not to be a symlink. */
  readonly nextIsNoLink?: boolean;
}

/**
 * The deepest part of `components` (below `home`) that exists, resolved
 * with realpath. The usual cases (the parent exists; the last component is
 * missing or not a symlink) take a realpath of the parent and one lstat,
 * instead of a failing realpath per missing component (each failure builds
 * an error, which costs more than the system call); anything else walks up
 * one component at a time.
 */
function deepestExisting(
  home: string,
  homeReal: string,
  components: readonly string[],
  fsPath: string,
): Deepest | undefined {
  const n = components.length;
  if (n === 0) return { real: homeReal, depth: 0 };
  const parentReal = n === 1 ? homeReal : safeRealpath(join(home, ...components.slice(0, -1)));
  if (parentReal !== undefined) {
    const link = safeLstat(fsPath);
    if (link === undefined) return { real: parentReal, depth: n - 1, nextIsNoLink: true };
    if (!link.isSymlink) return { real: join(parentReal, components[n - 1]!), depth: n };
    const real = safeRealpath(fsPath);
    return real === undefined ? { real: parentReal, depth: n - 1 } : { real, depth: n };
  }
  for (let depth = n - 2; depth >= 0; depth--) {
    const real = safeRealpath(join(home, ...components.slice(0, depth)));
    if (real !== undefined) return { real, depth };
  }
  return undefined;
}

/** Deletes files past their user's retention rules; every deletion is audited. */
function applyRetention(
  state: StorageState,
  ctx: ActorContext,
  requestedBy: string | null,
): StorageRetentionReport {
  let deleted = 0;
  let freedBytes = 0;
  const now = ctx.clock.now();
  for (const user of state.users.values()) {
    if (user.retentionDays === 0 && user.retentionFiles === 0) continue;
    const rows = state.index.filesOf(user.principal);
    const cutoff = user.retentionDays > 0 ? now - user.retentionDays * DAY_MS : -Infinity;
    const keepFrom = user.retentionFiles > 0 ? rows.length - user.retentionFiles : 0;
    rows.forEach((row, i) => {
      if (Date.parse(row.storedAt) >= cutoff && i >= keepFrom) return;
      const fsPath = join(state.root, ...row.path.split("/"));
      removeQuietly(fsPath);
      state.index.remove(row.path);
      deleted++;
      freedBytes += row.size;
      ctx.publish(createMessage("audit.append", {
        action: "storage.retention_deleted",
        outcome: "ok",
        detail: { path: row.path, owner: row.owner, size: row.size, storedAt: row.storedAt },
      }, { principal: requestedBy, channel: "system" }));
      removeEmptyParents(fsPath, join(state.root, ...user.home));
    });
  }
  return { deleted, freedBytes };
}

const PERMISSION_NAMES: Record<StoragePermission, string> = {
  e: "changing folder",
  l: "listing",
  r: "downloading",
  a: "appending",
  d: "deleting",
  f: "renaming",
  m: "making folders",
  w: "uploading",
};

function entryOf(virtualPath: string, stat: fs.Stats): StorageEntry {
  return {
    path: virtualPath,
    name: virtualPath === "/" ? "/" : virtualPath.slice(virtualPath.lastIndexOf("/") + 1),
    kind: stat.isDirectory() ? "dir" : "file",
    size: stat.isDirectory() ? 0 : stat.size,
    mtimeMs: stat.mtimeMs,
  };
}

/** stat of `path` when it (after symlinks) stays inside `home`. */
function statInside(path: string, home: string): fs.Stats | undefined {
  const real = safeRealpath(path);
  const homeReal = safeRealpath(home);
  if (real === undefined || homeReal === undefined || !isInside(homeReal, real)) return undefined;
  try {
    return fs.statSync(real);
  } catch {
    return undefined;
  }
}

function safeRealpath(path: string): string | undefined {
  try {
    return fs.realpathSync(path);
  } catch {
    return undefined;
  }
}

function safeLstat(path: string): Deno.FileInfo | undefined {
  try {
    // Deno's own lstat: node's (even with throwIfNoEntry) also converts the error to a node one.
    return Deno.lstatSync(path);
  } catch {
    return undefined; // ENOTDIR and the like: not there
  }
}

function isDanglingLink(path: string): boolean {
  try {
    return fs.lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function parentIsFolder(path: string): boolean {
  try {
    return Deno.statSync(join(path, "..")).isDirectory;
  } catch {
    return false;
  }
}

function removeQuietly(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch { /* already gone */ }
}

function removeEmptyParents(fsPath: string, home: string): void {
  let dir = join(fsPath, "..");
  for (let i = 0; i < 8 && dir !== home && isInside(home, dir); i++) {
    try {
      fs.rmdirSync(dir);
    } catch {
      return;
    }
    dir = join(dir, "..");
  }
}

function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

/** The refusal for a Node file system error (it has a `code` such as `ENOENT`), or undefined. */
function fsRefusal(error: unknown): { ok: false; error: Refusal } | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^E[A-Z]+$/.test(code)) return undefined;
  log.warn("File operation refused by the file system: {code}", { code });
  switch (code) {
    case "ENOENT":
      return refuse("not_found", "No such file or folder");
    case "EEXIST":
    case "EISDIR":
    case "ENOTDIR":
    case "ENOTEMPTY":
      return refuse("exists", `Not possible here (${code})`);
    case "ENOSPC":
    case "EDQUOT":
      return refuse("quota_exceeded", "The disk is full");
    case "EACCES":
    case "EPERM":
      return refuse("forbidden", "Permission denied by the file system");
    default:
      return refuse("internal", `File system error ${code}`);
  }
}

function refuse(code: Refusal["code"], message: string): { ok: false; error: Refusal } {
  return { ok: false, error: { code, message } };
}

function notFound(path: string): { ok: false; error: Refusal } {
  return refuse("not_found", `No such file or folder: ${path}`);
}
