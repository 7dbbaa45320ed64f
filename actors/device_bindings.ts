/**
 * The device actor's side of devices bound to real hardware (issue 11):
 * commands waiting for the device's confirmation, availability, and whether
 * the MQTT bridge is connected. Owned by the device actor, used only from
 * its handler, with the clock and timers injected.
 *
 * A command to a bound device is answered when the device reports a state
 * that matches what the command asked for (the keys the action changes),
 * within its confirmation time; else `device_timeout` (sent, not confirmed).
 * An offline device refuses at once (`device_offline`), and going offline
 * fails the commands waiting for it. While the bridge is down, commands get
 * `unavailable`.
 *
 * @module
 */
import type { DeviceSnapshot, DeviceState, Outcome, Refusal } from "../broker/messages.ts";

/** Starts a timer; the returned function cancels it. */
export type SetTimer = (ms: number, fire: () => void) => () => void;

/** Real timers. */
export function systemTimers(ms: number, fire: () => void): () => void {
  const id = setTimeout(fire, ms);
  return () => clearTimeout(id);
}

/** The state keys each action is confirmed by. */
const ACTION_KEYS: Readonly<Record<string, readonly string[]>> = {
  on: ["power"],
  off: ["power"],
  toggle: ["power"],
  brightness: ["power", "brightness"],
  set: ["target"],
  mode: ["mode"],
  lock: ["locked"],
  unlock: ["locked"],
  open: ["position"],
  close: ["position"],
  position: ["position"],
};

/** The keys a report must match for `action` with `desired` (brightness 0 is confirmed by power off). */
export function confirmationKeys(action: string, desired: DeviceState): readonly string[] {
  if (action === "brightness" && desired.brightness === 0) return ["power"];
  return ACTION_KEYS[action] ?? Object.keys(desired);
}

/** One command sent to a device and not yet confirmed. */
interface Pending {
  readonly command: string;
  readonly device: string;
  readonly keys: readonly string[];
  readonly desired: DeviceState;
  readonly answer: (outcome: Outcome<DeviceSnapshot>) => void;
  readonly cancel: () => void;
}

/** Options for {@linkcode DeviceBindings}. */
export interface DeviceBindingsOptions {
  /** Confirmation time when the binding gives none. */
  readonly confirmTimeoutMs: number;
  readonly setTimer?: SetTimer;
  /** Most commands waiting at once (beyond it: busy). */
  readonly maxPending?: number;
}

/** Pending confirmations, availability and the bridge's connection. */
export class DeviceBindings {
  readonly #options: Required<DeviceBindingsOptions>;
  readonly #pending = new Map<string, Pending>();
  readonly #online = new Map<string, boolean>();
  #bridge: { connected: boolean; reason: string } = {
    connected: false,
    reason: "the MQTT bridge has not connected yet",
  };

  /** @param options confirmation time and timers */
  constructor(options: DeviceBindingsOptions) {
    this.#options = { setTimer: systemTimers, maxPending: 4096, ...options };
  }

  /** The bridge connected or lost its broker. */
  setBridge(connected: boolean, reason = "the MQTT broker is not connected"): void {
    this.#bridge = { connected, reason };
  }

  /** Whether the bridge is connected (for status). */
  get bridgeConnected(): boolean {
    return this.#bridge.connected;
  }

  /** Last known availability of a device (undefined: never said). */
  online(device: string): boolean | undefined {
    return this.#online.get(device);
  }

  /** Why a command to `device` cannot be sent now, or undefined. */
  refusal(device: string): Refusal | undefined {
    if (!this.#bridge.connected) {
      return {
        code: "unavailable",
        message: `${this.#bridge.reason}: command not sent to ${device}`,
      };
    }
    if (this.#online.get(device) === false) {
      return {
        code: "device_offline",
        message: `${device} is offline (its availability says so): command not sent`,
      };
    }
    if (this.#pending.size >= this.#options.maxPending) {
      return { code: "busy", message: "Too many commands waiting for their devices: try again" };
    }
    return undefined;
  }

  /**
   * Waits for `device` to confirm `desired`; `answer` gets the outcome once: the
   * snapshot (via {@linkcode DeviceBindings.matched}) or a refusal.
   */
  await(
    args: {
      command: string;
      device: string;
      action: string;
      desired: DeviceState;
      timeoutMs?: number | undefined;
    },
    answer: (outcome: Outcome<DeviceSnapshot>) => void,
  ): void {
    const ms = args.timeoutMs ?? this.#options.confirmTimeoutMs;
    const cancel = this.#options.setTimer(ms, () => {
      if (!this.#pending.delete(args.command)) return;
      answer({
        ok: false,
        error: {
          code: "device_timeout",
          message: `Sent to ${args.device}, but it did not confirm within ${ms} ms: not applied`,
        },
      });
    });
    this.#pending.set(args.command, {
      command: args.command,
      device: args.device,
      keys: confirmationKeys(args.action, args.desired),
      desired: args.desired,
      answer,
      cancel,
    });
  }

  /**
   * The commands that `state` (the device's whole state after a report)
   * confirms; they are removed. Call `confirm(snapshot)` on each once the
   * change is committed.
   */
  matched(
    device: string,
    state: DeviceState,
  ): { command: string; confirm: (s: DeviceSnapshot) => void }[] {
    const out: { command: string; confirm: (s: DeviceSnapshot) => void }[] = [];
    for (const p of this.#pending.values()) {
      if (p.device !== device) continue;
      if (!p.keys.every((k) => state[k] === p.desired[k])) continue;
      this.#pending.delete(p.command);
      p.cancel();
      out.push({
        command: p.command,
        confirm: (snapshot) => p.answer({ ok: true, value: snapshot }),
      });
    }
    return out;
  }

  /** Records availability; going offline fails the commands waiting for the device. */
  setOnline(device: string, online: boolean): void {
    this.#online.set(device, online);
    if (online) return;
    this.#failDevice(device, {
      code: "device_offline",
      message: `${device} went offline before confirming: not applied`,
    });
  }

  /** The bridge could not send `command`: its asker is told now. */
  sendFailed(command: string, reason: string): void {
    const p = this.#pending.get(command);
    if (!p) return;
    this.#pending.delete(command);
    p.cancel();
    p.answer({
      ok: false,
      error: { code: "unavailable", message: `Not sent to ${p.device}: ${reason}` },
    });
  }

  /** A device was removed: commands waiting for it fail. */
  forget(device: string): void {
    this.#online.delete(device);
    this.#failDevice(device, { code: "unknown_device", message: `${device} was removed` });
  }

  /** Commands waiting now. */
  get pending(): number {
    return this.#pending.size;
  }

  #failDevice(device: string, error: Refusal): void {
    for (const p of [...this.#pending.values()]) {
      if (p.device !== device) continue;
      this.#pending.delete(p.command);
      p.cancel();
      p.answer({ ok: false, error });
    }
  }
}
