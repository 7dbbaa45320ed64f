/**
 * The automation safety rules: loop detection over the chain of rules that
 * led to a change, and a per-rule rate limit over a sliding window.
 *
 * A command a rule sends carries the chain of rule ids that led to it (see
 * `Source.rules`); the change it causes carries the same chain. When that
 * change would trigger a rule already in the chain, the rules form a cycle
 * and the run is stopped.
 *
 * @module
 */

/** Longest chain of rules triggering rules, even without a cycle. */
export const MAX_CHAIN = 8;

/** Why a triggered rule must not run because of its chain, or undefined when it may. */
export function loopProblem(
  chain: readonly string[],
  rule: string,
): { readonly kind: "loop" | "too_deep"; readonly chain: readonly string[] } | undefined {
  if (chain.includes(rule)) return { kind: "loop", chain: [...chain, rule] };
  if (chain.length >= MAX_CHAIN) return { kind: "too_deep", chain: [...chain, rule] };
  return undefined;
}

/** Runs per rule within a sliding window. Memory: at most `runs` times per rule. */
export class RuleRateLimit {
  readonly #times = new Map<string, number[]>();

  /**
   * Takes one run for `rule` at `nowMs` when fewer than `runs` happened in the last
   * `perSeconds`; answers false (taking nothing) otherwise.
   */
  take(rule: string, limit: { runs: number; perSeconds: number }, nowMs: number): boolean {
    const since = nowMs - limit.perSeconds * 1000;
    const times = (this.#times.get(rule) ?? []).filter((t) => t > since);
    if (times.length >= limit.runs) {
      this.#times.set(rule, times);
      return false;
    }
    times.push(nowMs);
    this.#times.set(rule, times);
    return true;
  }
}
