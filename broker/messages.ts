/**
 * The catalogue of every message kind that crosses the broker.
 *
 * One discriminated union on `type`. Names are dotted `domain.name`:
 * commands in the imperative (`device.command`), events in the past tense
 * (`device.state_changed`), replies to `ask` end in `.result`, and the
 * `system.` prefix is reserved for lifecycle messages.
 *
 * Every message is plain JSON data (no functions, no class instances), so an
 * in-process broker can be swapped for a distributed one without touching
 * the actors.
 *
 * @module
 */

import type { DeviceDeclaration, PrincipalDeclaration } from "../config/home.ts";

/** The channel a message came in on. */
export type Channel =
  | "tls"
  | "udp"
  | "ftp"
  | "http"
  | "cli"
  | "system"
  | "mqtt"
  | "automation";

/** Who sent a message and from where. `principal` is null before login. */
export interface Source {
  readonly principal: string | null;
  readonly channel: Channel;
  /** Remote address as `host:port`, where there is one. */
  readonly address?: string;
  /**
   * Automation rules whose runs led to this message, oldest first (issue 13):
   * set on the commands a rule sends and carried onto the changes they cause,
   * so that a rule triggering itself (or a cycle of rules) is detected.
   */
  readonly rules?: readonly string[];
}

/** A JSON value, the only kind of data a message may carry. */
export type Json = string | number | boolean | null | readonly Json[] | {
  readonly [key: string]: Json;
};

/** The state of one device: a flat record of JSON scalars. */
export type DeviceState = Readonly<Record<string, string | number | boolean | null>>;

/** A device as seen by a client: its declaration and its state. */
export interface DeviceSnapshot {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly room: string;
  readonly state: DeviceState;
  /** ISO time of the last change, or null when never changed. */
  readonly updatedAt: string | null;
}

/** Stable codes for every way a request can be refused. */
export type ErrorCode =
  | "malformed"
  | "unknown_device"
  | "unsupported_action"
  | "out_of_range"
  | "unauthenticated"
  | "forbidden"
  | "rate_limited"
  | "busy"
  | "too_large"
  | "replayed"
  | "stale"
  | "not_found"
  | "exists"
  | "quota_exceeded"
  | "timeout"
  | "unavailable"
  | "internal"
  // real devices (issue 11)
  | "device_timeout"
  | "device_offline";

/** A refusal, as data: a stable code and a human-readable message. */
export interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
}

/** A result that carries either a value or a refusal. */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: Refusal };

// ---------------------------------------------------------------- payloads

/** Ask the device actor to apply one action to one device. */
export interface DeviceCommandPayload {
  readonly device: string;
  readonly action: string;
  /** Arguments after the action, as typed by the client (`set 21.5` gives `["21.5"]`). */
  readonly args: readonly string[];
  /** The client's own id for the request (a datagram id, a WebSocket id), kept in the audit entry. */
  readonly ref?: string;
}

/** Ask the device actor to record a reading a device reports about itself. */
export interface DeviceReadingPayload {
  readonly device: string;
  /** What was measured or happened: `temperature`, `humidity`, `press`, ... */
  readonly metric: string;
  readonly value: number | string | boolean;
  /** The client's own id for the request, kept in the audit entry. */
  readonly ref?: string;
}

/** Ask the device actor for snapshots: one device, or all when `device` is null. */
export interface DeviceQueryPayload {
  readonly device: string | null;
}

/** A device's state changed; `cause` is the id of the message that changed it. */
export interface DeviceStateChangedPayload {
  readonly device: string;
  readonly state: DeviceState;
  readonly previous: DeviceState;
  readonly cause: string;
}

/** A camera stored a snapshot: the storage actor tells the device actor. */
export interface DeviceSnapshotStoredPayload {
  readonly device: string;
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** What the audit log records about a request and its outcome. */
export interface AuditAppendPayload {
  /** What happened, dotted: `device.command`, `auth.failed`, `ftp.stor`, ... */
  readonly action: string;
  readonly device?: string;
  readonly outcome: "ok" | "rejected" | "failed";
  /** Error code for rejected or failed outcomes. */
  readonly code?: ErrorCode;
  /** Extra detail, never a secret. */
  readonly detail?: { readonly [key: string]: Json };
}

/** The audit actor wrote an entry durably. */
export interface AuditAppendResultPayload {
  readonly seq: number;
  readonly hash: string;
}

/** The principals (and their grants) were reloaded (SIGHUP); consumers replace theirs. */
export interface PrincipalsChangedPayload {
  readonly principals: readonly PrincipalDeclaration[];
}

/** Lifecycle: a message was given up on after repeated failures. */
export interface DeadLetteredPayload {
  readonly actor: string;
  readonly messageId: string;
  readonly messageType: string;
  readonly error: string;
  readonly attempts: number;
}

/** Lifecycle: an actor restarted too often and was marked failed. */
export interface ActorGaveUpPayload {
  readonly actor: string;
  readonly reason: string;
}

/** Lifecycle: an actor's mailbox crossed its high-water mark (or fell back). */
export interface MailboxPressurePayload {
  readonly actor: string;
  readonly depth: number;
  readonly capacity: number;
  readonly pressured: boolean;
}

// ---------------------------------------------------------------- automations (issue 13)

/** What a rules request asks: the list, or to enable or disable one rule. */
export type AutomationRulesPayload =
  | { readonly action: "list" }
  | { readonly action: "enable" | "disable"; readonly rule: string };

/** One rule as `rules list` shows it. */
export interface RuleSummary {
  readonly id: string;
  readonly name: string;
  readonly enabled: boolean;
  /** Short text of the trigger, e.g. `button hall-button`. */
  readonly trigger: string;
  /** Short text of each action. */
  readonly actions: readonly string[];
  /** ISO time of the last run, or null. */
  readonly lastRunAt: string | null;
  readonly runs: number;
}

/** Ask to apply a scene as the sender (its grants decide which targets are refused). */
export interface AutomationScenePayload {
  readonly scene: string;
}

/** What applying a scene did: the devices that reached their target and those that refused. */
export interface SceneReport {
  readonly scene: string;
  readonly reached: readonly string[];
  readonly refused: readonly { readonly device: string; readonly error: Refusal }[];
}

/** A rule's notification action: a line for every subscribed TLS client. */
export interface AutomationNotificationPayload {
  readonly rule: string;
  readonly message: string;
}

/** FTP permission letters (pyftpdlib): e cwd, l list, r retrieve, a append, d delete, f rename, m mkdir, w store. */
export type StoragePermission = "e" | "l" | "r" | "a" | "d" | "f" | "m" | "w";

/** One file or folder as a storage client sees it. Paths are virtual: `/` is the user's home. */
export interface StorageEntry {
  readonly path: string;
  readonly name: string;
  readonly kind: "file" | "dir";
  readonly size: number;
  /** Modification time in ms since the epoch. */
  readonly mtimeMs: number;
}

/** Ask about one path; `purpose` picks the permission checked (`e` for cwd, `l` for info, `f` for rename). */
export interface StorageStatPayload {
  readonly path: string;
  readonly purpose: "cwd" | "info" | "rename";
}

/** A path-only storage request (list, read, delete, mkdir, rmdir). */
export interface StoragePathPayload {
  readonly path: string;
}

/** Leave to read one file once, through the storage side's byte interface. */
export interface StorageReadTicket {
  readonly path: string;
  readonly size: number;
  /** Opens the bytes with `StorageBytes.openRead` (domain/storage_bytes.ts). */
  readonly readId: string;
}

/** Ask to start an upload (STOR, or APPE when `append`). */
export interface StorageBeginUploadPayload {
  readonly path: string;
  readonly append: boolean;
}

/** An upload granted: its id (for `StorageBytes.openUpload`), and how many bytes it may have. */
export interface StorageUploadTicket {
  readonly uploadId: string;
  /** The final virtual path (per-day folders already applied). */
  readonly path: string;
  /** Bytes already in the temporary file (the existing file, for APPE). */
  readonly offset: number;
  /** Most bytes the whole file may have (file size limit and quota), or 0 for no limit. */
  readonly maxBytes: number;
}

/** Ask to make an upload final: rename into place and record the size and SHA-256 the storage side computed. */
export interface StorageCommitUploadPayload {
  readonly uploadId: string;
}

/** Ask to throw an upload away (transfer failed, client left, limit reached). */
export interface StorageAbortUploadPayload {
  readonly uploadId: string;
  readonly reason: string;
}

/** Ask to rename a file or folder. */
export interface StorageRenamePayload {
  readonly from: string;
  readonly to: string;
}

/** A file as recorded in the file index. */
export interface StoredFile {
  /** Path relative to UPLOAD_FOLDER, with `/` separators. */
  readonly path: string;
  /** The virtual path the owner sees. */
  readonly virtualPath: string;
  readonly owner: string;
  readonly size: number;
  readonly sha256: string;
  readonly storedAt: string;
}

/** What a retention run did. */
export interface StorageRetentionReport {
  readonly deleted: number;
  readonly freedBytes: number;
}

// ---------------------------------------------------------------- audit reads (issue 12)

/** Ask the audit actor for entries, newest first; `visibleDevices` "*" means every entry. */
export interface AuditQueryPayload {
  readonly device?: string;
  readonly principal?: string;
  /** ISO time: entries at or after. */
  readonly since?: string;
  /** ISO time: entries before. */
  readonly until?: string;
  /** Page cursor: only entries with a smaller seq. */
  readonly beforeSeq?: number;
  readonly limit: number;
  /** What the asker (the message's source principal) may see: every entry, or those of these devices and its own. */
  readonly visibleDevices: "*" | readonly string[];
}

/** One audit entry as a reader sees it. */
export interface AuditEntryView {
  readonly seq: number;
  readonly at: string;
  readonly principal: string | null;
  readonly channel: string;
  readonly address: string | null;
  readonly action: string;
  readonly device: string | null;
  readonly outcome: string;
  readonly code: string | null;
  readonly detail: Json;
  readonly hash: string;
}

/** A page of audit entries, newest first; `nextBefore` is the cursor of the next page. */
export interface AuditPage {
  readonly entries: readonly AuditEntryView[];
  readonly nextBefore: number | null;
}

/** Whether the audit chain verifies, from its anchor to its head. */
export interface AuditVerdict {
  readonly ok: boolean;
  readonly entries: number;
  readonly lastSeq: number;
  /** Where it broke, when it did. */
  readonly brokenAt?: number;
  readonly reason?: string;
}

/** Ask the storage actor to open a camera's latest stored snapshot (no path from the client). */
export interface StorageOpenSnapshotPayload {
  readonly device: string;
}

/** A camera snapshot ready to read. */
export interface StorageSnapshotTicket extends StorageReadTicket {
  readonly sha256: string;
  readonly storedAt: string;
}

// ---------------------------------------------------------------- real devices (issue 11)

/** How a device is bound to real hardware (the home file's `binding`, validated in config/home.ts). */
export type DeviceBinding = { readonly scheme: string } & { readonly [key: string]: Json };

/** Device actor -> MQTT bridge: send this validated command to the real device. */
export interface DeviceAdapterCommandPayload {
  readonly device: string;
  readonly deviceType: string;
  readonly binding: DeviceBinding;
  readonly action: string;
  readonly args: readonly string[];
  /** The state the device should report once it applied the command. */
  readonly desired: DeviceState;
  /** Id of the `device.command` message (for the send-failure report). */
  readonly command: string;
}

/** Bridge -> device actor (through the command path): what a real device said about itself. */
export interface DeviceReportPayload {
  readonly device: string;
  /** Hub-level state keys the device reported (a patch), when it reported state. */
  readonly state?: DeviceState;
  /** Availability, when it reported it. */
  readonly online?: boolean;
  /** The command whose sending failed (bridge disconnected, publish refused). */
  readonly sendFailed?: { readonly command: string; readonly reason: string };
  /** Where it came from: scheme and topic. */
  readonly raw: { readonly scheme: string; readonly topic: string };
}

/** What the device actor did with a report. */
export interface DeviceReportResult {
  readonly snapshot: DeviceSnapshot;
  /** True when the report changed the hub's state. */
  readonly changed: boolean;
  /** Ids of the commands this report confirmed. */
  readonly confirmed: readonly string[];
}

/** A device the bridge heard about that the home does not have yet (Zigbee2MQTT list, HA discovery). */
export interface DiscoveredDevice {
  /** Stable key, e.g. `zigbee2mqtt:0x00158d0001a2b3c4` or `homeassistant:light/node/obj`. */
  readonly key: string;
  readonly suggestedType: string;
  readonly name: string;
  readonly binding: DeviceBinding;
  readonly dimmable?: boolean;
  readonly metric?: string;
  readonly unit?: string;
}

/** Bridge -> device actor: the discovered devices (replaces the previous list of `source`). */
export interface DevicesDiscoveredPayload {
  readonly source: string;
  readonly devices: readonly DiscoveredDevice[];
}

/** Adopt a discovered device under an id, name and room chosen by the principal. */
export interface DeviceAdoptPayload {
  readonly key: string;
  readonly id: string;
  readonly name: string;
  readonly room: string;
  /** Overrides the suggested type (e.g. `light` for a discovered `switch`). */
  readonly type?: string;
}

/** Remove a device added at run time. */
export interface DeviceRemovePayload {
  readonly device: string;
}

/** The devices bound to hardware, as the device actor knows them now (the bridge subscribes). */
export interface BindingsChangedPayload {
  readonly devices: readonly {
    readonly id: string;
    readonly type: string;
    readonly binding: DeviceBinding;
  }[];
}

/** SIGHUP: the home file's devices as just re-read; the device actor adds, removes and replaces. */
export interface DevicesChangedPayload {
  readonly devices: readonly DeviceDeclaration[];
}

/** The MQTT bridge connected or lost its broker. */
export interface MqttConnectionPayload {
  readonly connected: boolean;
  readonly reason?: string;
}

/**
 * Every message kind and its payload. The key is the message `type`.
 * Add a kind here and the broker types it everywhere.
 */
export interface Payloads {
  "device.command": DeviceCommandPayload;
  "device.command_result": Outcome<DeviceSnapshot>;
  "device.reading": DeviceReadingPayload;
  "device.reading_result": Outcome<DeviceSnapshot>;
  "device.query": DeviceQueryPayload;
  "device.query_result": Outcome<readonly DeviceSnapshot[]>;
  "device.state_changed": DeviceStateChangedPayload;
  "device.snapshot_stored": DeviceSnapshotStoredPayload;
  "audit.append": AuditAppendPayload;
  "audit.append_result": AuditAppendResultPayload;
  "config.principals_changed": PrincipalsChangedPayload;
  "system.dead_lettered": DeadLetteredPayload;
  "system.actor_gave_up": ActorGaveUpPayload;
  "system.mailbox_pressure": MailboxPressurePayload;
  // storage (issue 5)
  "storage.stat": StorageStatPayload;
  "storage.stat_result": Outcome<StorageEntry>;
  "storage.list": StoragePathPayload;
  "storage.list_result": Outcome<readonly StorageEntry[]>;
  "storage.open_read": StoragePathPayload;
  "storage.open_read_result": Outcome<StorageReadTicket>;
  "storage.begin_upload": StorageBeginUploadPayload;
  "storage.begin_upload_result": Outcome<StorageUploadTicket>;
  "storage.commit_upload": StorageCommitUploadPayload;
  "storage.commit_upload_result": Outcome<StoredFile>;
  "storage.abort_upload": StorageAbortUploadPayload;
  "storage.abort_upload_result": Outcome<null>;
  "storage.delete": StoragePathPayload;
  "storage.delete_result": Outcome<StorageEntry>;
  "storage.rename": StorageRenamePayload;
  "storage.rename_result": Outcome<StorageEntry>;
  "storage.mkdir": StoragePathPayload;
  "storage.mkdir_result": Outcome<StorageEntry>;
  "storage.rmdir": StoragePathPayload;
  "storage.rmdir_result": Outcome<StorageEntry>;
  "storage.apply_retention": Record<string, never>;
  "storage.apply_retention_result": Outcome<StorageRetentionReport>;
  "storage.file_stored": StoredFile;
  // audit reads and snapshots (issue 12)
  "audit.query": AuditQueryPayload;
  "audit.query_result": Outcome<AuditPage>;
  "audit.verify": Record<string, never>;
  "audit.verify_result": Outcome<AuditVerdict>;
  "storage.open_snapshot": StorageOpenSnapshotPayload;
  "storage.open_snapshot_result": Outcome<StorageSnapshotTicket>;
  // real devices (issue 11)
  "device.adapter_command": DeviceAdapterCommandPayload;
  "device.report": DeviceReportPayload;
  "device.report_result": Outcome<DeviceReportResult>;
  "device.discovered": DevicesDiscoveredPayload;
  "device.list_discovered": Record<string, never>;
  "device.list_discovered_result": Outcome<readonly DiscoveredDevice[]>;
  "device.adopt": DeviceAdoptPayload;
  "device.adopt_result": Outcome<DeviceSnapshot>;
  "device.remove": DeviceRemovePayload;
  "device.remove_result": Outcome<DeviceSnapshot>;
  "device.bindings_changed": BindingsChangedPayload;
  "mqtt.connection_changed": MqttConnectionPayload;
  "config.devices_changed": DevicesChangedPayload;
  /** The device actor to itself: a bound device's confirmation time ran out. */
  "device.confirm_timeout": { readonly command: string };
  // automations (issue 13)
  "automation.rules": AutomationRulesPayload;
  "automation.rules_result": Outcome<readonly RuleSummary[]>;
  "automation.scene": AutomationScenePayload;
  "automation.scene_result": Outcome<SceneReport>;
  "automation.notification": AutomationNotificationPayload;
  /** The automation actor's own timer: time, interval, held-for and delay checks. */
  "automation.tick": Record<string, never>;
}

/**
 * Which message kinds are requests (sent with `ask`) and the kind of their
 * reply.
 */
export interface Replies {
  "device.command": "device.command_result";
  "device.reading": "device.reading_result";
  "device.query": "device.query_result";
  "audit.append": "audit.append_result";
  // storage (issue 5)
  "storage.stat": "storage.stat_result";
  "storage.list": "storage.list_result";
  "storage.open_read": "storage.open_read_result";
  "storage.begin_upload": "storage.begin_upload_result";
  "storage.commit_upload": "storage.commit_upload_result";
  "storage.abort_upload": "storage.abort_upload_result";
  "storage.delete": "storage.delete_result";
  "storage.rename": "storage.rename_result";
  "storage.mkdir": "storage.mkdir_result";
  "storage.rmdir": "storage.rmdir_result";
  "storage.apply_retention": "storage.apply_retention_result";
  // issue 12
  "audit.query": "audit.query_result";
  "audit.verify": "audit.verify_result";
  "storage.open_snapshot": "storage.open_snapshot_result";
  // real devices (issue 11)
  "device.report": "device.report_result";
  "device.list_discovered": "device.list_discovered_result";
  "device.adopt": "device.adopt_result";
  "device.remove": "device.remove_result";
  "automation.rules": "automation.rules_result";
  "automation.scene": "automation.scene_result";
}

/** Every message type name. */
export type MessageType = keyof Payloads;

/** Message types that expect a reply. */
export type RequestType = keyof Replies;

/** The reply type name for request type `K`. */
export type ReplyType<K extends RequestType> = Replies[K];

/** Fields every message carries, whatever its kind. */
export interface Envelope {
  /** Unique id of this message. */
  readonly id: string;
  /** ISO-8601 time it was created. */
  readonly at: string;
  readonly source: Source;
  /** Id of the message this one answers or was caused by. */
  readonly correlationId?: string;
}

/** One message of kind `K` (or the union of all kinds when `K` is omitted). */
export type Message<K extends MessageType = MessageType> = {
  [T in K]: Envelope & { readonly type: T; readonly payload: Payloads[T] };
}[K];

/** The reply message to a request of kind `K`. */
export type ReplyMessage<K extends RequestType> = Message<ReplyType<K>>;

/** The payload of the reply to a request of kind `K`. */
export type ReplyPayload<K extends RequestType> = Payloads[ReplyType<K>];

/** The reply type of every request type, at run time (for brokers that route replies). */
export const REPLY_TYPES: { readonly [K in RequestType]: Replies[K] } = {
  "device.command": "device.command_result",
  "device.reading": "device.reading_result",
  "device.query": "device.query_result",
  "audit.append": "audit.append_result",
  // storage (issue 5)
  "storage.stat": "storage.stat_result",
  "storage.list": "storage.list_result",
  "storage.open_read": "storage.open_read_result",
  "storage.begin_upload": "storage.begin_upload_result",
  "storage.commit_upload": "storage.commit_upload_result",
  "storage.abort_upload": "storage.abort_upload_result",
  "storage.delete": "storage.delete_result",
  "storage.rename": "storage.rename_result",
  "storage.mkdir": "storage.mkdir_result",
  "storage.rmdir": "storage.rmdir_result",
  "storage.apply_retention": "storage.apply_retention_result",
  // issue 12
  "audit.query": "audit.query_result",
  "audit.verify": "audit.verify_result",
  "storage.open_snapshot": "storage.open_snapshot_result",
  // real devices (issue 11)
  "device.report": "device.report_result",
  "device.list_discovered": "device.list_discovered_result",
  "device.adopt": "device.adopt_result",
  "device.remove": "device.remove_result",
  "automation.rules": "automation.rules_result",
  "automation.scene": "automation.scene_result",
};

/** The reply payload an actor returns for message kind `K` (`never` for non-requests). */
export type ReplyPayloadFor<K extends MessageType> = K extends RequestType ? ReplyPayload<K>
  : never;

/** True when `type` names a request kind (one that expects a reply). */
export function isRequestType(type: MessageType): type is RequestType {
  return Object.hasOwn(REPLY_TYPES, type);
}
