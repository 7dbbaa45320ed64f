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
 * `unavailable`. This class only keeps the books; the device actor journals
 * each outcome and answers the deferred request.
 *
 * @module
 */
import type { DeviceState, Message, Refusal } from "../broker/messages.ts";

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
export interface PendingCommand {
  /** The request, deferred: answered through `ctx.reply` once its outcome is journaled. */
  readonly message: Message<"device.command">;
  readonly device: string;
  readonly keys: readonly string[];
  readonly desired: DeviceState;
  readonly timeoutMs: number;
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
  readonly #pending = new Map<string, PendingCommand>();
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
   * Waits for the device to confirm `desired`. When the time runs out,
   * `onTimeout(commandId)` is called (the actor then journals and answers the
   * timeout through {@linkcode DeviceBindings.take}).
   */
  await(
    args: {
      message: Message<"device.command">;
      device: string;
      desired: DeviceState;
      timeoutMs?: number | undefined;
    },
    onTimeout: (command: string) => void,
  ): void {
    const ms = args.timeoutMs ?? this.#options.confirmTimeoutMs;
    const command = args.message.id;
    const cancel = this.#options.setTimer(ms, () => {
      if (this.#pending.has(command)) onTimeout(command);
    });
    this.#pending.set(command, {
      message: args.message,
      device: args.device,
      keys: confirmationKeys(args.message.payload.action, args.desired),
      desired: args.desired,
      timeoutMs: ms,
      cancel,
    });
  }

  /** The commands that `state` (the device's whole state after a report) confirms; removed. */
  matched(device: string, state: DeviceState): PendingCommand[] {
    const out: PendingCommand[] = [];
    for (const p of this.#pending.values()) {
      if (p.device !== device) continue;
      if (!p.keys.every((k) => state[k] === p.desired[k])) continue;
      out.push(this.#remove(p));
    }
    return out;
  }

  /** Removes and returns one waiting command (timed out, or its sending failed). */
  take(command: string): PendingCommand | undefined {
    const p = this.#pending.get(command);
    return p === undefined ? undefined : this.#remove(p);
  }

  /** Records availability; going offline removes and returns the commands waiting for the device. */
  setOnline(device: string, online: boolean): PendingCommand[] {
    this.#online.set(device, online);
    return online ? [] : this.forDevice(device);
  }

  /** A device was removed: the commands waiting for it, removed. */
  forget(device: string): PendingCommand[] {
    this.#online.delete(device);
    return this.forDevice(device);
  }

  /** Removes and returns every command waiting for `device`. */
  forDevice(device: string): PendingCommand[] {
    return [...this.#pending.values()].filter((p) => p.device === device).map((p) =>
      this.#remove(p)
    );
  }

  /** Commands waiting now. */
  get pending(): number {
    return this.#pending.size;
  }

  #remove(p: PendingCommand): PendingCommand {
    this.#pending.delete(p.message.id);
    p.cancel();
    return p;
  }
}
