/**
 * What each device type can do: its initial state and its actions, each
 * validated with a specific refusal (`unsupported_action`, `out_of_range`,
 * `malformed`). Pure functions of (declaration, state, action, args).
 *
 * | type | state | actions |
 * |---|---|---|
 * | light | power, brightness (dimmable) | on, off, toggle, brightness 0-100 (dimmable only) |
 * | switch | power | on, off, toggle |
 * | thermostat | target, mode | set <min..max>, mode heat/cool/off |
 * | lock | locked | lock, unlock |
 * | cover | position (0 closed .. 100 open) | open, close, position 0-100 |
 * | sensor | its metric | report <value> (the device itself, usually over UDP) |
 * | camera | lastSnapshot, snapshotSize, snapshotSha256, snapshotAt | none: uploads arrive by FTP |
 *
 * @module
 */
import type { DeviceState, Outcome, Refusal } from "../broker/messages.ts";
import type { DeviceDeclaration, DeviceType } from "../config/home.ts";
import { checkReading } from "./reading_ranges.ts";

/** Thermostat target range when the home file does not give one (°C). */
export const DEFAULT_TARGET_RANGE = { min: 5, max: 30 } as const;

/** What one device type knows. */
interface TypeSpec {
  /** The actions it accepts (for help and validation). */
  actions(decl: DeviceDeclaration): readonly string[];
  /** A freshly installed device's state. */
  initial(decl: DeviceDeclaration): DeviceState;
  /** Applies one action; `action` is one of `actions(decl)`. */
  apply(
    decl: DeviceDeclaration,
    state: DeviceState,
    action: string,
    args: readonly string[],
  ): Outcome<DeviceState>;
}

const ok = (value: DeviceState): Outcome<DeviceState> => ({ ok: true, value });
const refuse = (code: Refusal["code"], message: string): Outcome<DeviceState> => ({
  ok: false,
  error: { code, message },
});

function noArgs(decl: DeviceDeclaration, action: string, args: readonly string[]) {
  return args.length === 0
    ? undefined
    : refuse("malformed", `${decl.id} ${action} takes no value, got '${args.join(" ")}'`);
}

/** Parses a whole number in [min, max], with `malformed` / `out_of_range` refusals. */
function wholeNumber(
  decl: DeviceDeclaration,
  action: string,
  args: readonly string[],
  range: { min: number; max: number },
): { ok: true; value: number } | { ok: false; error: Refusal } {
  const usage = `Usage: ${decl.id} ${action} <${range.min}-${range.max}>`;
  if (args.length !== 1) return { ok: false, error: { code: "malformed", message: usage } };
  const text = args[0]!;
  if (!/^[+-]?\d{1,9}$/.test(text)) {
    return {
      ok: false,
      error: {
        code: "malformed",
        message: `${decl.id} ${action} needs a whole number, got '${text}'`,
      },
    };
  }
  const value = Number(text);
  if (value < range.min || value > range.max) {
    return {
      ok: false,
      error: {
        code: "out_of_range",
        message: `${decl.id} ${action} must be ${range.min}-${range.max}, got ${value}`,
      },
    };
  }
  return { ok: true, value };
}

const power: TypeSpec = {
  actions: (decl) =>
    decl.type === "light" && decl.dimmable
      ? ["on", "off", "toggle", "brightness"]
      : ["on", "off", "toggle"],
  initial: (decl) =>
    decl.type === "light" && decl.dimmable ? { power: "off", brightness: 100 } : { power: "off" },
  apply(decl, state, action, args) {
    if (action === "brightness") {
      const level = wholeNumber(decl, action, args, { min: 0, max: 100 });
      if (!level.ok) return { ok: false, error: level.error };
      return ok({ ...state, brightness: level.value, power: level.value > 0 ? "on" : "off" });
    }
    const bad = noArgs(decl, action, args);
    if (bad) return bad;
    const next = action === "toggle" ? (state.power === "on" ? "off" : "on") : action;
    return ok({ ...state, power: next });
  },
};

const thermostat: TypeSpec = {
  actions: () => ["set", "mode"],
  initial: (decl) => {
    const { min, max } = targetRange(decl);
    return { target: Math.min(max, Math.max(min, 20)), mode: "heat" };
  },
  apply(decl, state, action, args) {
    if (action === "mode") {
      const modes = ["heat", "cool", "off"];
      if (args.length !== 1) {
        return refuse("malformed", `Usage: ${decl.id} mode <${modes.join("|")}>`);
      }
      if (!modes.includes(args[0]!)) {
        return refuse(
          "out_of_range",
          `${decl.id} mode must be one of ${modes.join(", ")}, got '${args[0]}'`,
        );
      }
      return ok({ ...state, mode: args[0]! });
    }
    const { min, max } = targetRange(decl);
    if (args.length !== 1) return refuse("malformed", `Usage: ${decl.id} set <${min}-${max}>`);
    const text = args[0]!;
    if (!/^[+-]?(\d{1,4}(\.\d{1,2})?|\.\d{1,2})$/.test(text)) {
      return refuse(
        "malformed",
        `${decl.id} set needs a number such as 21.5, got '${text}'`,
      );
    }
    const target = Number(text);
    if (target < min || target > max) {
      return refuse("out_of_range", `${decl.id} target must be ${min}-${max}, got ${target}`);
    }
    return ok({ ...state, target });
  },
};

const lock: TypeSpec = {
  actions: () => ["lock", "unlock"],
  initial: () => ({ locked: true }),
  apply(decl, state, action, args) {
    return noArgs(decl, action, args) ?? ok({ ...state, locked: action === "lock" });
  },
};

const cover: TypeSpec = {
  actions: () => ["open", "close", "position"],
  initial: () => ({ position: 0 }),
  apply(decl, state, action, args) {
    if (action === "position") {
      const position = wholeNumber(decl, action, args, { min: 0, max: 100 });
      return position.ok ? ok({ ...state, position: position.value }) : position;
    }
    return noArgs(decl, action, args) ?? ok({ ...state, position: action === "open" ? 100 : 0 });
  },
};

const sensor: TypeSpec = {
  actions: () => ["report"],
  initial: (decl) => ({ [decl.metric ?? "value"]: null }),
  apply(decl, state, _action, args) {
    const metric = decl.metric ?? "value";
    if (args.length !== 1) return refuse("malformed", `Usage: ${decl.id} report <${metric}>`);
    const value = readingValue(args[0]!);
    if (!value.ok) return { ok: false, error: { code: "malformed", message: value.message } };
    const outside = checkReading(metric, value.value);
    if (outside) return { ok: false, error: outside };
    return ok({ ...state, [metric]: value.value });
  },
};

const camera: TypeSpec = {
  actions: () => [],
  initial: () => ({
    lastSnapshot: null,
    snapshotSize: null,
    snapshotSha256: null,
    snapshotAt: null,
  }),
  apply: () => refuse("unsupported_action", "Cameras take no commands"),
};

const SPECS: Readonly<Record<DeviceType, TypeSpec>> = {
  light: power,
  switch: power,
  thermostat,
  lock,
  cover,
  sensor,
  camera,
};

/** The thermostat target range of a declaration. */
export function targetRange(decl: DeviceDeclaration): { min: number; max: number } {
  return {
    min: decl.minTarget ?? DEFAULT_TARGET_RANGE.min,
    max: decl.maxTarget ?? DEFAULT_TARGET_RANGE.max,
  };
}

/** The actions a device accepts (besides `status`, which every device answers). */
export function actionsOf(decl: DeviceDeclaration): readonly string[] {
  return SPECS[decl.type].actions(decl);
}

/** The state of a device that never changed. */
export function initialState(decl: DeviceDeclaration): DeviceState {
  return SPECS[decl.type].initial(decl);
}

/**
 * Validates and applies `action` with `args` to a device; the state is not
 * changed in place.
 *
 * @returns the new state, or a refusal: `unsupported_action` (not an action
 * of this type), `malformed` (wrong number or shape of values) or
 * `out_of_range`
 *
 * @example
 * ```ts
 * applyAction(lampDecl, { power: "off", brightness: 100 }, "brightness", ["40"]);
 * // { ok: true, value: { power: "on", brightness: 40 } }
 * ```
 */
export function applyAction(
  decl: DeviceDeclaration,
  state: DeviceState,
  action: string,
  args: readonly string[],
): Outcome<DeviceState> {
  const spec = SPECS[decl.type];
  const actions = spec.actions(decl);
  if (!actions.includes(action)) {
    const known = actions.length ? `: it accepts ${actions.join(", ")}` : "";
    const hint = decl.type === "light" && action === "brightness" ? " (it is not dimmable)" : "";
    return refuse(
      "unsupported_action",
      `${decl.id} (${decl.type}) has no action '${action}'${hint}${known}`,
    );
  }
  return spec.apply(decl, state, action, args);
}

/**
 * Keeps the stored state of a device only where it still fits its
 * declaration: known keys with the same JSON type; everything else starts
 * from the initial state (a device whose type changed starts fresh).
 */
export function reconcileState(decl: DeviceDeclaration, stored: DeviceState): DeviceState {
  const initial = initialState(decl);
  const out: Record<string, string | number | boolean | null> = { ...initial };
  for (const [key, value] of Object.entries(stored)) {
    if (!(key in initial)) continue;
    const was = initial[key];
    if (was === null || value === null || typeof was === typeof value) out[key] = value;
  }
  return out;
}

/** Parses a reading: a number when it looks like one, true/false, else the text itself. */
export function readingValue(
  text: string,
): { ok: true; value: number | string | boolean } | { ok: false; message: string } {
  if (/^[+-]?(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    const n = Number(text);
    return Number.isFinite(n)
      ? { ok: true, value: n }
      : { ok: false, message: "Reading is not finite" };
  }
  if (/^[+-]?(nan|inf|infinity)$/i.test(text)) {
    return { ok: false, message: "Reading is not a finite number" };
  }
  if (text === "true" || text === "false") return { ok: true, value: text === "true" };
  if (text.length > 64) return { ok: false, message: "Reading is longer than 64 characters" };
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) {
    return { ok: false, message: "Reading contains control characters" };
  }
  return { ok: true, value: text };
}
