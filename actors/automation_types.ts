/**
 * The automation actor's options, state and shared environment (the home's
 * devices, scenes and principals, and the rate limits), used by the actor
 * and its handlers.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { AuditAppendPayload, Source } from "../broker/messages.ts";
import type { CommandPath } from "../domain/command_path.ts";
import type { DeviceDeclaration, Home, PrincipalDeclaration } from "../config/home.ts";
import type { Scene } from "../domain/automation/rule_schema.ts";
import type { RuleRateLimit } from "../domain/automation/safety.ts";
import type { SyncMode } from "../persistence/database.ts";
import type { RuleStore } from "../persistence/rule_store.ts";
import type { RuleRuntime } from "./automation_requests.ts";

/** Options for `createAutomationActor`. */
export interface AutomationActorOptions {
  readonly databasePath: string;
  readonly sync: SyncMode;
  readonly home: Home;
  /** The one command path: every action goes through it. */
  readonly commandPath: CommandPath;
  /** Appends an audit entry through the audit actor; resolves once recorded. */
  readonly audit: (entry: AuditAppendPayload, source: Source) => Promise<boolean>;
  /** IANA zone of time triggers and conditions. */
  readonly timeZone: string;
  /** How late a time trigger missed while the hub was down may still fire at start. */
  readonly graceMs: number;
  /** How often the timer checks what is due. */
  readonly tickMs: number;
  /** Principals besides the home's (the anonymous one of `TLS_AUTH=none`). */
  readonly extraPrincipals?: readonly PrincipalDeclaration[];
}

/** The automation actor's state. */
export interface AutomationState {
  readonly db: DatabaseSync;
  readonly store: RuleStore;
  readonly rules: Map<string, RuleRuntime>;
  readonly timer: ReturnType<typeof setInterval>;
  readonly sleepers: Set<{ at: number; wake: (woke: boolean) => void }>;
  readonly runs: Set<Promise<unknown>>;
}

/** What the handlers share for the actor's lifetime (built once from the options). */
export interface AutomationEnv {
  readonly options: AutomationActorOptions;
  readonly devices: ReadonlyMap<string, DeviceDeclaration>;
  readonly scenes: ReadonlyMap<string, Scene>;
  /** Replaced in place when `config.principals_changed` arrives. */
  readonly principals: Map<string, PrincipalDeclaration>;
  readonly rate: RuleRateLimit;
}
