/**
 * Helpers for automation tests against a real hub: a clock the test moves,
 * homes with the rules a test needs, device requests through the command
 * path, and reads of the hub's real database (rule runs, audit entries).
 *
 * @module
 */
import type { Clock } from "../../broker/envelope.ts";
import type { DeviceState, Source } from "../../broker/messages.ts";
import { type Home, homeSchema } from "../../config/home.ts";
import demoHome from "../../config/demo_home.json" with { type: "json" };
import { openDatabase } from "../../persistence/database.ts";
import { type HubFixture, startTestHub, type TestHubOptions } from "./hub_fixture.ts";

/** A clock that only moves when the test says so. */
export class TestClock implements Clock {
  #now: number;
  /** @param start ms since the epoch */
  constructor(start: number) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  /** Moves to `ms`. */
  set(ms: number): void {
    this.#now = ms;
  }
  /** Moves forward by `ms`. */
  advance(ms: number): void {
    this.#now += ms;
  }
}

/** The demo home with these rules and scenes, and an automation principal allowed everything. */
export function homeWith(rules: readonly unknown[], scenes: readonly unknown[] = []): Home {
  const data = structuredClone(demoHome) as unknown as {
    principals: { id: string; grants: unknown[] }[];
    rules: unknown[];
    scenes: unknown[];
  };
  data.principals.find((p) => p.id === "automations")!.grants = [
    { devices: ["*"], actions: ["*"] },
  ];
  data.rules = [...rules];
  data.scenes = [...scenes];
  return homeSchema.parse(data);
}

/** Starts a hub on `home` with the test clock and a fast automation tick. */
export function startAutomationHub(
  home: Home,
  clock: TestClock,
  options: Omit<TestHubOptions, "home" | "hub"> = {},
): Promise<HubFixture> {
  return startTestHub({
    ...options,
    home,
    env: { TZ: "Europe/Paris", ...options.env },
    hub: { clock, automationTickMs: 10 },
  });
}

const ADMIN: Source = { principal: "admin", channel: "cli" };

/** Sends a command as admin; throws when refused. */
export async function command(
  fx: HubFixture,
  device: string,
  action: string,
  ...args: string[]
): Promise<void> {
  const outcome = await fx.hub.commandPath.run(ADMIN, "device.command", { device, action, args });
  if (!outcome.ok) throw new Error(`${device} ${action}: ${outcome.error.message}`);
}

/** Reports a reading as the sensor itself (what the UDP channel does). */
export async function report(
  fx: HubFixture,
  device: string,
  metric: string,
  value: number | string,
): Promise<void> {
  const outcome = await fx.hub.commandPath.run(
    { principal: device, channel: "udp" },
    "device.reading",
    { device, metric, value },
  );
  if (!outcome.ok) throw new Error(`${device} report: ${outcome.error.message}`);
}

/** The current state of a device. */
export async function stateOf(fx: HubFixture, device: string): Promise<DeviceState> {
  const outcome = await fx.hub.commandPath.run(ADMIN, "device.query", { device });
  if (!outcome.ok) throw new Error(outcome.error.message);
  return outcome.value[0]!.state;
}

/** Rows of the hub's database (read-only connection). */
export function query<T>(fx: HubFixture, sql: string, ...params: (string | number)[]): T[] {
  const db = openDatabase(fx.hub.config.paths.database, { readOnly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Runs of one rule, oldest first. */
export function runsOf(
  fx: HubFixture,
  rule: string,
): { outcome: string; due_at: number | null; detail: string | null }[] {
  return query(
    fx,
    "SELECT outcome, due_at, detail FROM rule_runs WHERE rule = ? ORDER BY id",
    rule,
  );
}

/** Audit entries of one action, oldest first, with their detail parsed. */
export function auditOf(
  fx: HubFixture,
  action: string,
): {
  principal: string | null;
  channel: string;
  device: string | null;
  outcome: string;
  detail: Record<string, unknown>;
}[] {
  return query<{
    principal: string | null;
    channel: string;
    device: string | null;
    outcome: string;
    detail: string | null;
  }>(
    fx,
    "SELECT principal, channel, device, outcome, detail FROM audit_log WHERE action = ? ORDER BY seq",
    action,
  ).map((r) => ({ ...r, detail: r.detail === null ? {} : JSON.parse(r.detail) }));
}

/** Waits (bounded) until `check` answers true; throws with `what` otherwise. */
export async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** Lets the automation actor handle everything queued and tick a few times. */
export async function settle(fx: HubFixture): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await fx.hub.broker.settled();
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}
