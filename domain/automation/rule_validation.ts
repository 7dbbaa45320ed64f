/**
 * Checks rules and scenes against the home's devices and principals, at
 * load: every device named exists and fits the trigger, every action is one
 * the device type has (with valid values), and the rule's principal may do
 * every action and see every device the rule reads. Each problem names the
 * rule (or scene) and the field.
 *
 * @module
 */
import type { DeviceDeclaration, PrincipalDeclaration } from "../../config/home.ts";
import { canSee, isAllowed } from "../grants.ts";
import { actionsOf, applyAction, initialState } from "../device_types.ts";
import type { CommandStep, Rule, Scene, SceneTarget } from "./rule_schema.ts";

/** One problem: where (a field path) and what. */
export interface RuleIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** What rules are checked against. */
export interface RuleHome {
  readonly devices: readonly DeviceDeclaration[];
  readonly principals: readonly PrincipalDeclaration[];
  readonly rules: readonly Rule[];
  readonly scenes: readonly Scene[];
}

/** Every problem of the home's rules and scenes (empty when all are valid). */
export function validateRules(home: RuleHome): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const devices = new Map(home.devices.map((d) => [d.id, d]));
  const principals = new Map(home.principals.map((p) => [p.id, p]));
  const scenes = new Map<string, Scene>();
  home.scenes.forEach((scene, i) => {
    const at = (...path: (string | number)[]) => ["scenes", i, ...path];
    if (scenes.has(scene.id)) {
      issues.push({ path: at("id"), message: `duplicate scene id ${scene.id}` });
    }
    scenes.set(scene.id, scene);
    scene.targets.forEach((target, j) => {
      const problem = commandProblem(devices, target);
      if (problem) {
        issues.push({
          path: at("targets", j, problem.field),
          message: `scene ${scene.id}: ${problem.message}`,
        });
      }
    });
  });
  const ruleIds = new Set<string>();
  home.rules.forEach((rule, i) => {
    const at = (...path: (string | number)[]) => ["rules", i, ...path];
    const say = (message: string) => `rule ${rule.id}: ${message}`;
    if (ruleIds.has(rule.id)) {
      issues.push({ path: at("id"), message: `duplicate rule id ${rule.id}` });
    }
    ruleIds.add(rule.id);
    const principal = principals.get(rule.principal);
    if (principal === undefined) {
      issues.push({ path: at("principal"), message: say(`unknown principal ${rule.principal}`) });
      return;
    }
    if (principal.kind !== "automation") {
      issues.push({
        path: at("principal"),
        message: say(
          `${rule.principal} is a ${principal.kind}; rules act as a principal of kind "automation"`,
        ),
      });
      return;
    }
    const seen = (device: string, path: (string | number)[]) => {
      const decl = devices.get(device);
      if (decl === undefined) {
        issues.push({ path: at(...path), message: say(`unknown device ${device}`) });
        return undefined;
      }
      if (!canSee(principal, device)) {
        issues.push({
          path: at(...path),
          message: say(
            `principal ${principal.id} has no grant on ${device} (add one, e.g. action "status")`,
          ),
        });
        return undefined;
      }
      return decl;
    };
    const trigger = rule.trigger;
    if ("device" in trigger) {
      const decl = seen(trigger.device, ["trigger", "device"]);
      const wanted = trigger.kind === "sensor" || trigger.kind === "button"
        ? "sensor"
        : trigger.kind === "snapshot"
        ? "camera"
        : undefined;
      if (decl && wanted && decl.type !== wanted) {
        issues.push({
          path: at("trigger", "device"),
          message: say(`a ${trigger.kind} trigger needs a ${wanted}, ${decl.id} is a ${decl.type}`),
        });
      }
      if (decl && trigger.kind === "state" && trigger.attribute !== undefined) {
        attributeProblem(decl, trigger.attribute, at("trigger", "attribute"), say, issues);
      }
    }
    rule.conditions.forEach((condition, j) => {
      if (condition.kind !== "state") return;
      const decl = seen(condition.device, ["conditions", j, "device"]);
      if (decl && condition.attribute !== undefined) {
        attributeProblem(decl, condition.attribute, at("conditions", j, "attribute"), say, issues);
      }
    });
    rule.actions.forEach((action, j) => {
      if (action.kind === "command") {
        const problem = commandProblem(devices, action) ?? grantProblem(principal, action);
        if (problem) {
          issues.push({ path: at("actions", j, problem.field), message: say(problem.message) });
        }
      } else if (action.kind === "scene") {
        const scene = scenes.get(action.scene);
        if (scene === undefined) {
          issues.push({
            path: at("actions", j, "scene"),
            message: say(`unknown scene ${action.scene}`),
          });
          return;
        }
        for (const target of scene.targets) {
          const problem = grantProblem(principal, target);
          if (problem) {
            issues.push({
              path: at("actions", j, "scene"),
              message: say(`scene ${scene.id}: ${problem.message}`),
            });
          }
        }
      }
    });
  });
  return issues;
}

function attributeProblem(
  decl: DeviceDeclaration,
  attribute: string,
  path: (string | number)[],
  say: (m: string) => string,
  issues: RuleIssue[],
): void {
  const keys = Object.keys(initialState(decl));
  if (!keys.includes(attribute)) {
    issues.push({
      path,
      message: say(`${decl.id} has no state '${attribute}': it has ${keys.join(", ")}`),
    });
  }
}

/** Why a device command cannot work on its device type, or undefined. */
function commandProblem(
  devices: ReadonlyMap<string, DeviceDeclaration>,
  command: CommandStep | SceneTarget,
): { field: string; message: string } | undefined {
  const decl = devices.get(command.device);
  if (decl === undefined) return { field: "device", message: `unknown device ${command.device}` };
  if (!actionsOf(decl).includes(command.action)) {
    const known = actionsOf(decl);
    return {
      field: "action",
      message: `${decl.id} (${decl.type}) has no action '${command.action}'${
        known.length ? `: it accepts ${known.join(", ")}` : ""
      }`,
    };
  }
  const applied = applyAction(decl, initialState(decl), command.action, command.args);
  if (!applied.ok) return { field: "args", message: applied.error.message };
  return undefined;
}

function grantProblem(
  principal: PrincipalDeclaration,
  command: CommandStep | SceneTarget,
): { field: string; message: string } | undefined {
  if (isAllowed(principal, command.device, command.action)) return undefined;
  return {
    field: "action",
    message: `principal ${principal.id} may not ${command.action} ${command.device} (add a grant)`,
  };
}
