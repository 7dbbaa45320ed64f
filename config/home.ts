/**
 * The home file: which devices exist and which principals may do what.
 * Validated once with zod; an invalid file stops the start with a message
 * that names the file and the field.
 *
 * @module
 */
import { z } from "zod";
import { parseHomeFolder } from "../domain/storage_paths.ts";
import { actionsOf } from "../domain/device_types.ts";
import { bindingProblem, bindingSchema } from "./device_binding.ts";
import { ruleSchema, sceneSchema } from "../domain/automation/rule_schema.ts";
import { validateRules } from "../domain/automation/rule_validation.ts";

const ID = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,47}$/, {
  message: "must be 1-48 characters of a-z, 0-9, '-' or '_', starting with a letter or digit",
});

/** The device types the hub knows. */
export const DEVICE_TYPES = [
  "light",
  "switch",
  "thermostat",
  "lock",
  "cover",
  "sensor",
  "camera",
] as const;

/** One of {@linkcode DEVICE_TYPES}. */
export type DeviceType = (typeof DEVICE_TYPES)[number];

const deviceSchema = z.object({
  id: ID,
  type: z.enum(DEVICE_TYPES),
  name: z.string().min(1).max(80),
  room: z.string().min(1).max(80),
  /** Lights only: accepts `brightness 0-100`. */
  dimmable: z.boolean().optional(),
  /** Thermostats: the allowed target range in °C. */
  minTarget: z.number().optional(),
  maxTarget: z.number().optional(),
  /** Sensors: the metric it reports and its unit, e.g. temperature / °C. */
  metric: z.string().min(1).max(40).optional(),
  unit: z.string().max(16).optional(),
  /** Real devices (issue 11): how it is reached over MQTT; absent: simulated. */
  binding: bindingSchema.optional(),
}).strict();

/** A device declaration. */
export type DeviceDeclaration = z.infer<typeof deviceSchema>;

/** Validates one device declaration (devices adopted at run time). */
export function parseDeviceDeclaration(
  data: unknown,
): { ok: true; value: DeviceDeclaration } | { ok: false; message: string } {
  const parsed = deviceSchema.safeParse(data);
  if (!parsed.success) return { ok: false, message: formatIssues("device", parsed.error.issues) };
  const d = parsed.data;
  const problem = d.binding ? bindingProblem(d.binding, d.type, d.dimmable) : undefined;
  return problem ? { ok: false, message: `device: binding: ${problem}` } : { ok: true, value: d };
}

const grantSchema = z.object({
  /** Device ids, or `"*"` for all. */
  devices: z.array(z.union([ID, z.literal("*")])).min(1),
  /** Actions, or `"*"` for all (`status` is implied by any grant on a device). */
  actions: z.array(z.string().min(1).max(32)).min(1),
}).strict();

/** One access grant: these actions on these devices. */
export type Grant = z.infer<typeof grantSchema>;

const FTP_PERMISSIONS = /^[elradfmw]*$/;

const ftpAccessSchema = z.object({
  /** Home folder relative to UPLOAD_FOLDER ("" or "." for the root). */
  home: z.string().max(200),
  /** pyftpdlib letters: e list, l list, r retrieve, a append, d delete, f rename, m mkdir, w store. */
  permissions: z.string().regex(FTP_PERMISSIONS, { message: "only the letters elradfmw" }),
  /** Bytes this user may keep in total (0 = no quota). */
  quotaBytes: z.number().int().nonnegative().optional(),
  /** Files this user may keep (0 = no quota). */
  quotaFiles: z.number().int().nonnegative().optional(),
  /** For camera principals: store snapshots into per-day folders. */
  perDayFolders: z.boolean().optional(),
  /** Retention: delete this user's files older than N days (0 = keep). */
  retentionDays: z.number().int().nonnegative().optional(),
  /** Retention: keep at most N newest files (0 = unlimited). */
  retentionFiles: z.number().int().nonnegative().optional(),
}).strict();

/** What a principal may do over FTP. */
export type FtpAccess = z.infer<typeof ftpAccessSchema>;

const principalSchema = z.object({
  id: ID,
  /** `automation`: the identity rules act as (issue 13); it has no channel and no credential. */
  kind: z.enum(["controller", "device", "camera", "ftp_user", "automation"]),
  /** For device and camera principals: the device it is. */
  device: ID.optional(),
  grants: z.array(grantSchema).default([]),
  /** Channels this principal may use (`tls` also opens the HTTP API and the page, with its token). */
  channels: z.array(z.enum(["tls", "udp", "ftp", "http"])).default([]),
  ftp: ftpAccessSchema.optional(),
}).strict().superRefine((p, ctx) => {
  if (p.kind === "automation" ? p.channels.length > 0 : p.channels.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["channels"],
      message: p.kind === "automation"
        ? "an automation principal uses no channel: leave channels out"
        : "must name at least one channel",
    });
  }
});

/** A principal: a controller app, a device, a camera or an FTP user. */
export type PrincipalDeclaration = z.infer<typeof principalSchema>;

/** The schema of the whole home file. */
export const homeSchema = z.object({
  name: z.string().min(1).max(80),
  devices: z.array(deviceSchema),
  principals: z.array(principalSchema),
  /** Automation rules (issue 13). */
  rules: z.array(ruleSchema).max(500).default([]),
  /** Scenes: device commands applied together (issue 13). */
  scenes: z.array(sceneSchema).max(200).default([]),
}).strict().superRefine((home, ctx) => {
  const ids = new Set<string>();
  home.devices.forEach((d, i) => {
    if (ids.has(d.id)) {
      ctx.addIssue({
        code: "custom",
        path: ["devices", i, "id"],
        message: `duplicate device id ${d.id}`,
      });
    }
    ids.add(d.id);
    const problem = d.binding ? bindingProblem(d.binding, d.type, d.dimmable) : undefined;
    if (problem) {
      ctx.addIssue({ code: "custom", path: ["devices", i, "binding"], message: problem });
    }
    if (
      d.type === "thermostat" && d.minTarget !== undefined && d.maxTarget !== undefined &&
      d.minTarget >= d.maxTarget
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["devices", i, "maxTarget"],
        message: "must be above minTarget",
      });
    }
  });
  const principals = new Set<string>();
  home.principals.forEach((p, i) => {
    if (principals.has(p.id)) {
      ctx.addIssue({
        code: "custom",
        path: ["principals", i, "id"],
        message: `duplicate principal id ${p.id}`,
      });
    }
    principals.add(p.id);
    if (p.device !== undefined && !ids.has(p.device)) {
      ctx.addIssue({
        code: "custom",
        path: ["principals", i, "device"],
        message: `unknown device ${p.device}`,
      });
    }
    p.grants.forEach((g, j) => {
      g.devices.forEach((d, k) => {
        if (d !== "*" && !ids.has(d)) {
          ctx.addIssue({
            code: "custom",
            path: ["principals", i, "grants", j, "devices", k],
            message: `unknown device ${d}`,
          });
        }
      });
      const known = grantableActions(home.devices, g.devices);
      g.actions.forEach((action, k) => {
        if (action !== "*" && !known.includes(action)) {
          ctx.addIssue({
            code: "custom",
            path: ["principals", i, "grants", j, "actions", k],
            message: `"${action}" is not an action of ${
              g.devices.includes("*") ? "any device" : g.devices.join(", ")
            }: use one of ${known.join(", ")} or "*"`,
          });
        }
      });
    });
    if (p.ftp) {
      const folder = parseHomeFolder(p.ftp.home);
      if (!folder.ok) {
        ctx.addIssue({
          code: "custom",
          path: ["principals", i, "ftp", "home"],
          message: `${JSON.stringify(p.ftp.home)} must be a folder inside UPLOAD_FOLDER ` +
            `(relative, without ".." or a leading "/"), e.g. "cameras/porch"`,
        });
      }
    }
    if (p.channels.includes("ftp") && !p.ftp) {
      ctx.addIssue({
        code: "custom",
        path: ["principals", i, "ftp"],
        message: "required when channels include ftp",
      });
    }
  });
  for (const issue of validateRules(home)) {
    ctx.addIssue({ code: "custom", path: [...issue.path], message: issue.message });
  }
});

/** A validated home: devices and principals. */
export type Home = z.infer<typeof homeSchema>;

/** A home file as written, before defaults (`rules`, `scenes`, `grants` may be left out). */
export type HomeInput = z.input<typeof homeSchema>;

/**
 * The actions a grant on `granted` (device ids, or `"*"`) can name: every action of those
 * devices' types, `status` (always), and `snapshot` for cameras.
 */
export function grantableActions(
  devices: readonly DeviceDeclaration[],
  granted: readonly string[],
): string[] {
  const actions = new Set(["status"]);
  for (const device of devices) {
    if (!granted.includes("*") && !granted.includes(device.id)) continue;
    for (const action of actionsOf(device)) actions.add(action);
    if (device.type === "camera") actions.add("snapshot");
  }
  return [...actions].sort();
}

/**
 * Formats zod issues as `file: where: message` lines, naming devices and principals by id
 * (`principal "kitchen-panel" › grant 2 › actions`) rather than by position.
 *
 * @param data the parsed file, to look the ids up
 */
export function formatIssues(
  file: string,
  issues: readonly z.core.$ZodIssue[],
  data?: unknown,
): string {
  return issues.map((issue) => `${file}: ${describePath(issue.path, data)}: ${issueText(issue)}`)
    .join("\n");
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type" && /received undefined$/.test(issue.message)) {
    return `required (${issue.expected})`;
  }
  return issue.message;
}

/** What one item of each list in the home file is called in messages. */
const ITEM_NOUNS: Readonly<Record<string, string>> = {
  devices: "device",
  principals: "principal",
  grants: "grant",
  rules: "rule",
  scenes: "scene",
  actions: "action",
  conditions: "condition",
  targets: "target",
};

function describePath(path: readonly PropertyKey[], data: unknown): string {
  if (path.length === 0) return "(top level)";
  const parts: string[] = [];
  let node: unknown = data;
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    const next = path[i + 1];
    const list = (node as Record<PropertyKey, unknown> | undefined)?.[key];
    if (typeof next === "number" && Array.isArray(list)) {
      const item: unknown = list[next];
      const id = (item as { id?: unknown } | undefined)?.id;
      const noun = i === 0 || key !== "devices"
        ? (ITEM_NOUNS[String(key)] ?? String(key))
        : "devices";
      parts.push(
        typeof id === "string" && i === 0 ? `${noun} "${id}"` : `${noun} ${next + 1}`,
      );
      node = item;
      i++;
      continue;
    }
    parts.push(String(key));
    node = list;
  }
  return parts.join(" › ");
}
