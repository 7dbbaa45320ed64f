/**
 * The shape of one CLI subcommand.
 *
 * @module
 */
import { resolve } from "node:path";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import type { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../../persistence/database.ts";

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

/** The hub database path from `--data-dir`, `$DATA_DIR` or `./data`. */
export function databasePath(dataDirOption: string | undefined): string {
  return resolve(dataDirOption ?? Deno.env.get("DATA_DIR") ?? "./data", "hub.db");
}

/** Opens the hub database read-only, or says where it looked and returns undefined. */
export function openExistingDatabase(path: string): DatabaseSync | undefined {
  try {
    Deno.statSync(path);
  } catch {
    err(`No database at ${path} (set --data-dir or DATA_DIR)`);
    return undefined;
  }
  return openDatabase(path, { readOnly: true });
}

/** What {@linkcode parseOptions} returns: the option values and the positionals. */
export type ParsedOptions<T extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; allowPositionals: true; options: T }>
>;

/**
 * Parses a subcommand's options (positionals allowed). On a wrong option it prints the problem
 * and the usage and returns undefined: the caller exits 2.
 */
export function parseOptions<T extends ParseArgsOptionsConfig>(
  args: readonly string[],
  options: T,
  usage: string,
): ParsedOptions<T> | undefined {
  try {
    return parseArgs({ args: [...args], allowPositionals: true, options });
  } catch (error) {
    err(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
    return undefined;
  }
}
