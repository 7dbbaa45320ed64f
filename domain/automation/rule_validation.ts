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
  const scenes = validateScenes(home.scenes, devices, issues);
  const ruleIds = new Set<string>();
  home.rules.forEach((rule, i) => {
    if (ruleIds.has(rule.id)) {
      issues.push({ path: ["rules", i, "id"], message: `duplicate rule id ${rule.id}` });
    }
    ruleIds.add(rule.id);
    const check = ruleCheck(rule, i, issues);
    const principal = principals.get(rule.principal);
    if (principal === undefined) {
      check.problem(["principal"], `unknown principal ${rule.principal}`);
    } else if (principal.kind !== "automation") {
      check.problem(
        ["principal"],
        `${rule.principal} is a ${principal.kind}; rules act as a principal of kind "automation"`,
      );
    } else {
      checkReads(rule, principal, devices, check);
      checkActions(rule, principal, { devices, scenes }, check);
    }
  });
  return issues;
}

/** Records problems of one rule at paths under `rules.<i>`, each message naming the rule. */
interface RuleCheck {
  problem(path: readonly (string | number)[], message: string): void;
}

function ruleCheck(rule: Rule, index: number, issues: RuleIssue[]): RuleCheck {
  return {
    problem: (path, message) =>
      issues.push({ path: ["rules", index, ...path], message: `rule ${rule.id}: ${message}` }),
  };
}

/** Checks the scenes' targets against device types; answers the scenes by id. */
function validateScenes(
  declared: readonly Scene[],
  devices: ReadonlyMap<string, DeviceDeclaration>,
  issues: RuleIssue[],
): Map<string, Scene> {
  const scenes = new Map<string, Scene>();
  declared.forEach((scene, i) => {
    if (scenes.has(scene.id)) {
      issues.push({ path: ["scenes", i, "id"], message: `duplicate scene id ${scene.id}` });
    }
    scenes.set(scene.id, scene);
    scene.targets.forEach((target, j) => {
      const problem = commandProblem(devices, target);
      if (problem) {
        issues.push({
          path: ["scenes", i, "targets", j, problem.field],
          message: `scene ${scene.id}: ${problem.message}`,
        });
      }
    });
  });
  return scenes;
}

/** The devices a rule reads (trigger, conditions): they exist, fit, and the principal sees them. */
function checkReads(
  rule: Rule,
  principal: PrincipalDeclaration,
  devices: ReadonlyMap<string, DeviceDeclaration>,
  check: RuleCheck,
): void {
  const seen = (device: string, path: (string | number)[]) => {
    const decl = devices.get(device);
    if (decl === undefined) check.problem(path, `unknown device ${device}`);
    else if (!canSee(principal, device)) {
      check.problem(
        path,
        `principal ${principal.id} has no grant on ${device} (add one, e.g. action "status")`,
      );
    } else return decl;
    return undefined;
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
      check.problem(
        ["trigger", "device"],
        `a ${trigger.kind} trigger needs a ${wanted}, ${decl.id} is a ${decl.type}`,
      );
    }
    if (decl && trigger.kind === "state" && trigger.attribute !== undefined) {
      attributeProblem(decl, trigger.attribute, ["trigger", "attribute"], check);
    }
  }
  rule.conditions.forEach((condition, j) => {
    if (condition.kind !== "state") return;
    const decl = seen(condition.device, ["conditions", j, "device"]);
    if (decl && condition.attribute !== undefined) {
      attributeProblem(decl, condition.attribute, ["conditions", j, "attribute"], check);
    }
  });
}

/** A rule's commands (and its scenes' targets) exist on their devices and its principal may do them. */
function checkActions(
  rule: Rule,
  principal: PrincipalDeclaration,
  home: {
    readonly devices: ReadonlyMap<string, DeviceDeclaration>;
    readonly scenes: ReadonlyMap<string, Scene>;
  },
  check: RuleCheck,
): void {
  rule.actions.forEach((action, j) => {
    if (action.kind === "command") {
      const problem = commandProblem(home.devices, action) ?? grantProblem(principal, action);
      if (problem) check.problem(["actions", j, problem.field], problem.message);
    } else if (action.kind === "scene") {
      const scene = home.scenes.get(action.scene);
      if (scene === undefined) {
        check.problem(["actions", j, "scene"], `unknown scene ${action.scene}`);
        return;
      }
      for (const target of scene.targets) {
        const problem = grantProblem(principal, target);
        if (problem) {
          check.problem(["actions", j, "scene"], `scene ${scene.id}: ${problem.message}`);
        }
      }
    }
  });
}

function attributeProblem(
  decl: DeviceDeclaration,
  attribute: string,
  path: (string | number)[],
  check: RuleCheck,
): void {
  const keys = Object.keys(initialState(decl));
  if (!keys.includes(attribute)) {
    check.problem(path, `${decl.id} has no state '${attribute}': it has ${keys.join(", ")}`);
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
