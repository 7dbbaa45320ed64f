/**
 * What one storage user may do, on the storage actor's state: stat, list,
 * read, upload (begin, commit, abort), delete, rename, mkdir, and the
 * retention run. Each answers an outcome; file system errors are turned
 * into refusals by the actor.
 *
 * @module
 */
import fs from "node:fs";
import { join } from "node:path";
import type {
  Outcome,
  Refusal,
  StorageEntry,
  StoragePermission,
  StorageReadTicket,
  StorageUploadTicket,
  StoredFile,
} from "../broker/messages.ts";
import { createMessage } from "../broker/envelope.ts";
import {
  isInside,
  parseVirtualPath,
  PARTIAL_FOLDER,
  toVirtualPath,
} from "../domain/storage_paths.ts";
import type { ActorContext } from "./actor.ts";
import type { StorageUser } from "../domain/storage_users.ts";

import {
  type PendingUpload,
  type Resolved,
  type StorageActorOptions,
  type StorageState,
  UPLOAD_ID,
} from "./storage_state.ts";
import {
  deepestExisting,
  entryOf,
  isDanglingLink,
  notFound,
  ok,
  parentIsFolder,
  PERMISSION_NAMES,
  refuse,
  removeQuietly,
  safeLstat,
  safeRealpath,
  statInside,
} from "./storage_fs.ts";

/** The operations of one user, on the actor's state. */
export class Operations {
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

  openRead(path: string): Outcome<StorageReadTicket> {
    const denied = this.#need("r");
    if (denied) return denied;
    const resolved = this.#resolve(path);
    if (!resolved.ok) return resolved;
    const r = resolved.value;
    if (!r.stat) return notFound(r.virtualPath);
    if (!r.stat.isFile()) return refuse("not_found", `Not a file: ${r.virtualPath}`);
    const readId = this.#options.bytes.registerRead(fs.realpathSync(r.fsPath));
    return ok({ path: r.virtualPath, size: r.stat.size, readId });
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
    this.#options.bytes.registerUpload(uploadId, { tempPath, offset, maxBytes: limit.value });
    return ok({ uploadId, path: r.virtualPath, offset, maxBytes: limit.value });
  }

  commit(uploadId: string): Outcome<StoredFile> {
    const upload = this.#state.uploads.get(uploadId);
    if (!upload || upload.owner !== this.#user.principal) {
      // Begun before a restart of this actor: the writer may have created the file since.
      if (!upload && UPLOAD_ID.test(uploadId)) {
        removeQuietly(join(this.#state.partial, `${uploadId}.part`));
      }
      return refuse("not_found", "Unknown upload (the hub may have restarted)");
    }
    this.#state.uploads.delete(uploadId);
    const written = this.#options.bytes.resultOf(uploadId);
    this.#options.bytes.forgetUpload(uploadId);
    if (written === undefined) {
      removeQuietly(upload.tempPath);
      return refuse("internal", "The upload was not written to the end: nothing stored");
    }
    const { size, sha256 } = written;
    const unfit = this.#unfitForCommit(upload, size);
    if (unfit) {
      removeQuietly(upload.tempPath);
      return unfit;
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

  /** Why a finished upload may not be renamed into place (its temporary file is then removed). */
  #unfitForCommit(upload: PendingUpload, size: number): { ok: false; error: Refusal } | undefined {
    let actual: number;
    try {
      actual = Deno.statSync(upload.tempPath).size;
    } catch {
      return refuse("internal", "The upload's temporary file is gone");
    }
    if (actual !== size) {
      return refuse("internal", `Upload size mismatch (${actual} on disk, ${size} written)`);
    }
    if (upload.maxBytes > 0 && size > upload.maxBytes) {
      return refuse(
        "quota_exceeded",
        `The file is larger than the ${upload.maxBytes} bytes allowed`,
      );
    }
    if (this.#hasQuota()) {
      // Another upload may have used the quota meanwhile: check again before the rename.
      const limit = this.#limit(upload.relPath, fs.existsSync(upload.fsPath));
      if (!limit.ok || (limit.value > 0 && size > limit.value)) {
        return limit.ok ? refuse("quota_exceeded", "Quota exceeded") : limit;
      }
    }
    if (!parentIsFolder(upload.fsPath)) {
      return refuse("not_found", `The folder of ${upload.virtualPath} is gone`);
    }
    if (safeLstat(upload.fsPath)?.isDirectory) {
      return refuse("exists", `${upload.virtualPath} is a folder now: nothing stored`);
    }
    return undefined;
  }

  abort(uploadId: string): Outcome<null> {
    const upload = this.#state.uploads.get(uploadId);
    if (upload && upload.owner === this.#user.principal) {
      this.#state.uploads.delete(uploadId);
      this.#options.bytes.forgetUpload(uploadId);
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
