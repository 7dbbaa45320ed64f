/**
 * Where the CLI takes a secret (token, password, key) from, so that it
 * never has to be typed on the command line: `deno task` echoes every
 * command line to stderr, and `ps` shows it to every user of the machine.
 * In order: a file named by `--<name>-file` (which must be readable by its
 * owner only, mode 600), the environment or `.env`, a prompt without echo
 * when stdin is a terminal; a value given on the command line still works
 * but is warned about.
 *
 * @module
 */
import { err } from "./commands/command.ts";

/** Where to look for one secret. */
export interface SecretSource {
  /** What the secret is, for messages: "TLS token". */
  readonly label: string;
  /** The command-line option's value (discouraged), if given. */
  readonly argValue?: string | undefined;
  /** The option's name without dashes: "token" (its file option is `--token-file`). */
  readonly option: string;
  /** The `--<option>-file` value, if given. */
  readonly file?: string | undefined;
  /** The variable that may hold it: "HUB_TOKEN". */
  readonly envName: string;
  /** Ask on the terminal when nothing else gives it (default true). */
  readonly prompt?: boolean;
}

/** The secret, or the message saying how to give it. */
export type SecretResult = { ok: true; value: string } | { ok: false; error: string };

/** Finds the secret described by `source` (see the module doc for the order). */
export async function readSecret(source: SecretSource): Promise<SecretResult> {
  if (source.file !== undefined) return await readSecretFile(source.file, source.option);
  if (source.argValue !== undefined) {
    err(
      `Warning: --${source.option} on the command line is echoed by deno task and visible to ` +
        `other users in ps: prefer ${source.envName} (environment or .env) or --${source.option}-file`,
    );
    return { ok: true, value: source.argValue };
  }
  const fromEnv = Deno.env.get(source.envName);
  if (fromEnv !== undefined && fromEnv !== "") return { ok: true, value: fromEnv };
  if (source.prompt !== false && Deno.stdin.isTerminal()) {
    const typed = await promptHidden(`${source.label}: `);
    if (typed) return { ok: true, value: typed };
  }
  return {
    ok: false,
    error: `No ${source.label}: set ${source.envName} (in the environment or .env), ` +
      `or give --${source.option}-file FILE (mode 600)`,
  };
}

/** Reads a secret from a file that only its owner may read; the first line, trimmed. */
export async function readSecretFile(path: string, option: string): Promise<SecretResult> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    return { ok: false, error: `--${option}-file ${path}: ${(error as Error).message}` };
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    return {
      ok: false,
      error: `--${option}-file ${path} can be read by other users (mode ${
        (info.mode & 0o777).toString(8)
      }): run chmod 600 ${path}`,
    };
  }
  const text = await Deno.readTextFile(path);
  const value = text.split("\n")[0]!.trim();
  if (value === "") return { ok: false, error: `--${option}-file ${path} is empty` };
  return { ok: true, value };
}

/** Asks for a line on the terminal without echoing it. */
async function promptHidden(question: string): Promise<string> {
  const encoder = new TextEncoder();
  Deno.stderr.writeSync(encoder.encode(question));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  try {
    reading: while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      for (const byte of buffer.subarray(0, n)) {
        if (byte === 13 || byte === 10) break reading;
        if (byte === 3) return ""; // Ctrl+C
        if (byte === 127 || byte === 8) bytes.pop();
        else bytes.push(byte);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
