/**
 * The shape of automation rules and scenes as the home file declares them
 * (`rules` and `scenes`). The home file's loader (config/) embeds these
 * schemas; the checks against the home's devices and principals are in
 * `rule_validation.ts`.
 *
 * A rule: one trigger, optional conditions (all must hold), actions run in
 * order, as one principal (its grants bound what the rule may do).
 *
 * @example A button that toggles a light
 * ```json
 * { "id": "porch-toggle", "principal": "automations",
 *   "trigger": { "kind": "button", "device": "hall-button" },
 *   "actions": [{ "kind": "command", "device": "porch-light", "action": "toggle" }] }
 * ```
 *
 * @module
 */
import { z } from "zod";

const ID = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,47}$/, {
  message: "must be 1-48 characters of a-z, 0-9, '-' or '_', starting with a letter or digit",
});

const CLOCK_TIME = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, {
  message: "must be a 24-hour time HH:MM, e.g. 07:30",
});

/** A state value a trigger or condition compares with. */
const VALUE = z.union([z.string().max(64), z.number(), z.boolean()]);

/** The days of the week, as conditions name them. */
export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

/** One of {@linkcode WEEKDAYS}. */
export type Weekday = (typeof WEEKDAYS)[number];

const stateTrigger = z.object({
  kind: z.literal("state"),
  device: ID,
  /** The state key watched; default the device type's main one (power, locked, target, ...). */
  attribute: z.string().min(1).max(40).optional(),
  to: VALUE.optional(),
  from: VALUE.optional(),
  /** Fires when the value crosses above this (was at or below, is now above). */
  above: z.number().optional(),
  /** Fires when the value crosses below this (was at or above, is now below). */
  below: z.number().optional(),
  /** Fires only once the new value has held this long (seconds). */
  forSeconds: z.number().int().positive().max(7 * 86400).optional(),
}).strict();

const sensorTrigger = z.object({
  kind: z.literal("sensor"),
  device: ID,
  /** Only reports above / below this value. */
  above: z.number().optional(),
  below: z.number().optional(),
}).strict();

const buttonTrigger = z.object({
  kind: z.literal("button"),
  device: ID,
  /** Only this reported value (`single`, `double`, ...); default any press. */
  value: VALUE.optional(),
}).strict();

const snapshotTrigger = z.object({ kind: z.literal("snapshot"), device: ID }).strict();

const timeTrigger = z.object({
  kind: z.literal("time"),
  /** Time of day in the hub's time zone (`TZ`). */
  at: CLOCK_TIME,
}).strict();

const intervalTrigger = z.object({
  kind: z.literal("interval"),
  everySeconds: z.number().int().min(1).max(7 * 86400),
}).strict();

const triggerSchema = z.discriminatedUnion("kind", [
  stateTrigger,
  sensorTrigger,
  buttonTrigger,
  snapshotTrigger,
  timeTrigger,
  intervalTrigger,
]);

/** What starts a rule. */
export type Trigger = z.infer<typeof triggerSchema>;

const stateCondition = z.object({
  kind: z.literal("state"),
  device: ID,
  attribute: z.string().min(1).max(40).optional(),
  is: VALUE.optional(),
  not: VALUE.optional(),
  above: z.number().optional(),
  below: z.number().optional(),
}).strict();

const timeCondition = z.object({
  kind: z.literal("time"),
  /** From this time of day (inclusive); with `before`, a window that may wrap midnight. */
  after: CLOCK_TIME.optional(),
  /** Until this time of day (exclusive). */
  before: CLOCK_TIME.optional(),
}).strict();

const weekdayCondition = z.object({
  kind: z.literal("weekday"),
  days: z.array(z.enum(WEEKDAYS)).min(1),
}).strict();

const conditionSchema = z.discriminatedUnion("kind", [
  stateCondition,
  timeCondition,
  weekdayCondition,
]);

/** What must hold for a triggered rule to run. */
export type Condition = z.infer<typeof conditionSchema>;

const commandAction = z.object({
  kind: z.literal("command"),
  device: ID,
  action: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, { message: "must be an action word" }),
  args: z.array(z.union([z.string().max(64), z.number()]).transform(String)).max(8).default([]),
}).strict();

const sceneAction = z.object({ kind: z.literal("scene"), scene: ID }).strict();

const delayAction = z.object({
  kind: z.literal("delay"),
  seconds: z.number().positive().max(86400),
}).strict();

const notifyAction = z.object({
  kind: z.literal("notify"),
  // deno-lint-ignore no-control-regex
  message: z.string().min(1).max(200).regex(/^[^\u0000-\u001f\u007f]*$/, {
    message: "must be one line without control characters",
  }),
}).strict();

const actionSchema = z.discriminatedUnion("kind", [
  commandAction,
  sceneAction,
  delayAction,
  notifyAction,
]);

/** One step of a rule. */
export type RuleAction = z.infer<typeof actionSchema>;

/** A device command as rules and scenes write it. */
export type CommandStep = Extract<RuleAction, { kind: "command" }>;

/** The schema of one rule. */
export const ruleSchema = z.object({
  id: ID,
  name: z.string().min(1).max(80).optional(),
  /** The principal the rule acts as: its grants bound every command the rule sends. */
  principal: ID,
  trigger: triggerSchema,
  conditions: z.array(conditionSchema).max(16).default([]),
  actions: z.array(actionSchema).min(1).max(32),
  /** Enabled at first start; `deno task cli rules enable|disable` changes it at run time. */
  enabled: z.boolean().default(true),
  /** Most runs in `perSeconds`; more are refused (audited once per window). */
  rateLimit: z.object({
    runs: z.number().int().min(1).max(10_000),
    perSeconds: z.number().int().min(1).max(86400),
  }).strict().default({ runs: 10, perSeconds: 60 }),
}).strict();

/** A validated rule. */
export type Rule = z.infer<typeof ruleSchema>;

/** The schema of one scene: device commands applied together. */
export const sceneSchema = z.object({
  id: ID,
  name: z.string().min(1).max(80).optional(),
  targets: z.array(commandAction.omit({ kind: true }).strict()).min(1).max(64),
}).strict();

/** A validated scene. */
export type Scene = z.infer<typeof sceneSchema>;

/** One target of a scene: a device command. */
export type SceneTarget = Scene["targets"][number];
