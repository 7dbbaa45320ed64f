/**
 * What /healthz answers: each listener and actor up or not, and whether the
 * database answers a query. Healthy only when everything is up.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { ActorStats } from "../actors/actor.ts";
import type { Listener } from "../protocols/listener.ts";

/** The health report, as JSON. */
export interface HealthReport {
  readonly status: "ok" | "unhealthy";
  readonly listeners: Readonly<Record<string, { up: boolean; port: number }>>;
  readonly actors: Readonly<Record<string, { up: boolean; status: string; depth: number }>>;
  readonly database: { readonly up: boolean; readonly error?: string };
}

/** Where health comes from. */
export interface HealthSources {
  readonly actorStats: () => readonly ActorStats[];
  readonly listeners: ReadonlyMap<string, Listener>;
  readonly db?: DatabaseSync;
}

/** Checks every part once. */
export function checkHealth(sources: HealthSources): HealthReport {
  const listeners: Record<string, { up: boolean; port: number }> = {};
  for (const l of sources.listeners.values()) {
    listeners[l.name] = { up: l.listening, port: l.port };
  }
  const actors: Record<string, { up: boolean; status: string; depth: number }> = {};
  for (const s of sources.actorStats()) {
    actors[s.name] = { up: s.status === "running", status: s.status, depth: s.depth };
  }
  let database: HealthReport["database"] = { up: sources.db !== undefined };
  if (sources.db) {
    try {
      sources.db.prepare("SELECT 1").get();
    } catch (error) {
      database = { up: false, error: error instanceof Error ? error.message : String(error) };
    }
  }
  const up = Object.values(listeners).every((l) => l.up) &&
    Object.values(actors).every((a) => a.up) && database.up;
  return { status: up ? "ok" : "unhealthy", listeners, actors, database };
}
