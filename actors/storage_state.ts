/**
 * The storage actor's options and state, shared by its parts.
 *
 * @module
 */
import fs from "node:fs";
import type { DatabaseSync } from "node:sqlite";
import { type SyncMode } from "../persistence/database.ts";
import { FileIndexStore } from "../persistence/file_index_store.ts";
import { type PathComponents } from "../domain/storage_paths.ts";
import type { StorageByteStore } from "./storage_bytes.ts";
import type { StorageUser } from "../domain/storage_users.ts";
import type { PrincipalDeclaration } from "../config/home.ts";

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
  /** The byte interface transports stream through; the actor registers its tickets there. */
  readonly bytes: StorageByteStore;
}

/** An upload between begin and commit/abort. */
export interface PendingUpload {
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
export interface Resolved {
  readonly components: PathComponents;
  readonly virtualPath: string;
  readonly fsPath: string;
  /** Relative to UPLOAD_FOLDER, `/` separators (the file index key). */
  readonly relPath: string;
  readonly stat: fs.Stats | undefined;
}

export const DAY_MS = 86_400_000;

/** What `crypto.randomUUID` hands out as upload ids. */
export const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
