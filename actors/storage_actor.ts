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
import type { Message, Outcome } from "../broker/messages.ts";
import { openDatabase } from "../persistence/database.ts";
import { FileIndexStore } from "../persistence/file_index_store.ts";
import { PARTIAL_FOLDER } from "../domain/storage_paths.ts";
import type { ActorBehaviour, ActorContext } from "./actor.ts";
import { openSnapshot } from "./storage_snapshot.ts";
import type { PrincipalDeclaration } from "../config/home.ts";
import { getLogger } from "../observability/logger.ts";

import type { StorageActorOptions, StorageState } from "./storage_state.ts";
import { Operations } from "./storage_operations.ts";
import { applyRetention } from "./storage_retention.ts";
import { fsRefusal, ok, refuse, removeQuietly } from "./storage_fs.ts";

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
      dispatch(state, message, options, ctx);
      return { state };
    },
    terminate(state) {
      for (const [id, upload] of state.uploads) {
        options.bytes.forgetUpload(id);
        removeQuietly(upload.tempPath);
      }
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

/** Runs a file operation; a file system error is the disk's answer, not a bug: a refusal. */
function guarded<T>(work: () => Outcome<T>): Outcome<T> {
  try {
    return work();
  } catch (error) {
    const refusal = fsRefusal(error);
    if (!refusal) throw error;
    return refusal;
  }
}

/** Answers one storage request through `ctx.reply`, typed by its kind. */
function dispatch(
  state: StorageState,
  message: Message<Exclude<StorageTopic, "config.principals_changed">>,
  options: StorageActorOptions,
  ctx: ActorContext,
): void {
  if (message.type === "storage.apply_retention") {
    const principal = message.source.principal;
    return ctx.reply(message, guarded(() => ok(applyRetention(state, ctx, principal))));
  }
  if (message.type === "storage.open_snapshot") {
    return ctx.reply(
      message,
      guarded(() => openSnapshot(state, options.bytes, message.payload.device)),
    );
  }
  const principal = message.source.principal;
  const user = principal === null ? undefined : state.users.get(principal);
  if (!user) {
    return ctx.reply(message, refuse("unauthenticated", "Not logged in as a storage user"));
  }
  const ops = new Operations(state, user, options, ctx);
  switch (message.type) {
    case "storage.stat":
      return ctx.reply(
        message,
        guarded(() => ops.stat(message.payload.path, message.payload.purpose)),
      );
    case "storage.list":
      return ctx.reply(message, guarded(() => ops.list(message.payload.path)));
    case "storage.open_read":
      return ctx.reply(message, guarded(() => ops.openRead(message.payload.path)));
    case "storage.begin_upload":
      return ctx.reply(
        message,
        guarded(() => ops.beginUpload(message.payload.path, message.payload.append)),
      );
    case "storage.commit_upload":
      return ctx.reply(message, guarded(() => ops.commit(message.payload.uploadId)));
    case "storage.abort_upload":
      return ctx.reply(message, guarded(() => ops.abort(message.payload.uploadId)));
    case "storage.delete":
      return ctx.reply(message, guarded(() => ops.remove(message.payload.path, "file")));
    case "storage.rmdir":
      return ctx.reply(message, guarded(() => ops.remove(message.payload.path, "dir")));
    case "storage.rename":
      return ctx.reply(
        message,
        guarded(() => ops.rename(message.payload.from, message.payload.to)),
      );
    case "storage.mkdir":
      return ctx.reply(message, guarded(() => ops.mkdir(message.payload.path)));
  }
}

export type { StorageActorOptions, StorageState } from "./storage_state.ts";
