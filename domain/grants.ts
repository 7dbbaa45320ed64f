/**
 * Principals and grants: who may see and do what. Every channel gets the
 * same answers because only the device actor asks these questions.
 *
 * @module
 */
import type { PrincipalDeclaration } from "../config/home.ts";

/** Whether `principal` may perform `action` on `device`. */
export function isAllowed(
  principal: PrincipalDeclaration,
  device: string,
  action: string,
): boolean {
  return principal.grants.some((g) =>
    (g.devices.includes("*") || g.devices.includes(device)) &&
    (g.actions.includes("*") || g.actions.includes(action))
  );
}

/** Whether `principal` has any grant on `device` (and so may see it). */
export function canSee(principal: PrincipalDeclaration, device: string): boolean {
  return principal.grants.some((g) => g.devices.includes("*") || g.devices.includes(device));
}

/** The id commands run as when a channel is configured without authentication. */
export const ANONYMOUS_PRINCIPAL_ID = "anonymous";

/**
 * The principal commands run as on a channel configured without
 * authentication (`TLS_AUTH=none`, `UDP_AUTH=none`): every action on every
 * device. Its commands are audited under the id `anonymous`.
 */
export function anonymousPrincipal(): PrincipalDeclaration {
  return {
    id: ANONYMOUS_PRINCIPAL_ID,
    kind: "controller",
    grants: [{ devices: ["*"], actions: ["*"] }],
    channels: ["tls", "udp"],
  };
}
