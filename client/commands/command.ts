/**
 * The shape of one CLI subcommand.
 *
 * @module
 */

/** A CLI subcommand: a one-line summary, usage text, and what it does. */
export interface CliCommand {
  readonly summary: string;
  readonly usage: string;
  /** Runs with the arguments after the subcommand name; returns the exit code. */
  run(args: readonly string[]): Promise<number>;
}

const encoder = new TextEncoder();

/** Writes a line to stdout (program output). */
export function out(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/** Writes a line to stderr (errors, progress). */
export function err(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}
