/**
 * What every topic scheme module provides: pure functions between a real
 * device's MQTT messages and the hub's device types and states. Nothing here
 * does I/O; the MQTT bridge (protocols/mqtt/) subscribes, publishes and hands
 * the decoded reports to the command path.
 *
 * Hub states, per type (domain/device_types.ts): light `{power, brightness}`
 * (brightness 0-100), switch `{power}`, cover `{position}` (0 closed .. 100
 * open), lock `{locked}`, thermostat `{target, mode}`, sensor `{<metric>}`.
 *
 * @module
 */
import type { DeviceState } from "../../broker/messages.ts";
import type { Binding } from "../../config/device_binding.ts";

/** A device bound to hardware, as the adapters need it. */
export interface BoundDevice<B extends Binding = Binding> {
  readonly id: string;
  readonly type: string;
  readonly binding: B;
  readonly dimmable?: boolean;
  readonly metric?: string;
}

/** One MQTT message to publish. */
export interface Outgoing {
  readonly topic: string;
  readonly payload: string;
}

/** A validated command, ready to encode: the action and the state it should lead to. */
export interface AdapterCommand {
  readonly action: string;
  readonly args: readonly string[];
  readonly desired: DeviceState;
}

/** What the bridge adds to a command: its client id and a request number (Shelly RPC). */
export interface EncodeContext {
  readonly clientId: string;
  readonly requestId: number;
}

/** What one MQTT message means for one bound device. */
export type Decoded =
  | { readonly kind: "state"; readonly state: DeviceState }
  | { readonly kind: "availability"; readonly online: boolean }
  /** A message on the device's topics that carries nothing the hub models (Tasmota RESULT of another command). */
  | { readonly kind: "ignored" }
  /** An RPC reply that says the command failed (Shelly). */
  | { readonly kind: "rejected"; readonly requestId: number; readonly reason: string }
  | { readonly kind: "refused"; readonly reason: string };

/** One topic scheme. */
export interface SchemeAdapter<B extends Binding = Binding> {
  /** Exact topics to subscribe to for this device (no wildcards). */
  topics(device: BoundDevice<B>, clientId: string): readonly string[];
  /** The messages that carry `command` to the device, or why it cannot be sent. */
  encode(
    device: BoundDevice<B>,
    command: AdapterCommand,
    context: EncodeContext,
  ): { ok: true; value: readonly Outgoing[] } | { ok: false; reason: string };
  /** What `payload` on `topic` (one of `topics`) says about the device. */
  decode(device: BoundDevice<B>, topic: string, payload: string): Decoded;
}

/** A refusal, for the decoders. */
export function refused(reason: string): Decoded {
  return { kind: "refused", reason };
}

/** Parses a JSON object payload, or says why it is not one. */
export function jsonObject(
  payload: string,
): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return { ok: false, reason: "malformed JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, reason: "not a JSON object" };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

/** `ON`/`OFF` (any case) as the hub's power, or undefined. */
export function onOff(value: unknown): "on" | "off" | undefined {
  if (typeof value !== "string") return undefined;
  const v = value.toUpperCase();
  return v === "ON" ? "on" : v === "OFF" ? "off" : undefined;
}

/** A finite number within [min, max], or undefined. */
export function numberIn(value: unknown, min: number, max: number): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= min && value <= max
    ? value
    : undefined;
}

/** Scales a device brightness (0..scale) to the hub's 0-100. */
export function toPercent(value: number, scale: number): number {
  return Math.round((value * 100) / scale);
}

/** Scales the hub's 0-100 brightness to a device's 0..scale. */
export function fromPercent(value: number, scale: number): number {
  return Math.round((value * scale) / 100);
}

/** A reading value from a plain payload: a finite number, or refused. */
export function plainNumber(payload: string): number | undefined {
  const text = payload.trim();
  if (!/^[+-]?(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads a dotted path (`DS18B20.Temperature`) in a parsed JSON object. */
export function pathValue(root: Record<string, unknown>, path: string): unknown {
  let here: unknown = root;
  for (const key of path.split(".")) {
    if (typeof here !== "object" || here === null || Array.isArray(here)) return undefined;
    if (!Object.hasOwn(here, key)) return undefined;
    here = (here as Record<string, unknown>)[key];
  }
  return here;
}

/** The hub's desired power and brightness for a power-type command. */
export function desiredPower(
  command: AdapterCommand,
): { power: "on" | "off"; brightness?: number } {
  const power = command.desired.power === "on" ? "on" : "off";
  const b = command.desired.brightness;
  return command.action === "brightness" && typeof b === "number"
    ? { power, brightness: b }
    : { power };
}
