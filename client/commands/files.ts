/**
 * `cli files list|put|get|mkdir|delete`: the hub's FTP store over explicit
 * FTPS through {@linkcode FtpClient} (npm:basic-ftp). Transfers show a progress bar on stderr when stderr
 * is a terminal or with `--progress`. Relative local paths are taken from the
 * folder `deno task` was started in (`INIT_CWD`), else the current folder.
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import {
  FtpClient,
  type FtpError,
  type FtpResult,
  type RemoteEntry,
  type TransferSummary,
} from "../ftp_client.ts";
import { formatBytes, ProgressBar } from "../progress_bar.ts";
import { type CliCommand, err, out, type ParsedOptions, parseOptions } from "./command.ts";
import { readSecret } from "../secret_input.ts";

const USAGE = `files list [remote-path]              entries of a remote folder (default: your home)
files put <local-file> [remote-path]  upload (default: the file's name in your home)
files get <remote-file> [local-path]  download (default: the file's name in this folder)
files mkdir <remote-folder>           create a folder (and its missing parents)
files delete <remote-path> [--folder] delete a file (or, with --folder, an empty folder)
Options: --host H (default $FTP_SERVER_IP or 127.0.0.1)  --port P (default $FTP_PORT or 2121)
         --user U (default $FTP_USERNAME or user)
         password: $FTP_PASSWORD (environment or .env), --password-file FILE (mode 600), or a prompt
         --ca FILE (certificate to trust; default $SSL_CERT or certs/server.crt)
         --json (list: one JSON object per entry)  --progress (progress bar even when not a terminal)
         --timeout SECONDS (each wait; default 30)
         --insecure-plain (plain FTP, no TLS: password and data in clear)`;

const encoder = new TextEncoder();

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  user: { type: "string" },
  password: { type: "string" },
  "password-file": { type: "string" },
  ca: { type: "string" },
  json: { type: "boolean", default: false },
  progress: { type: "boolean", default: false },
  timeout: { type: "string" },
  "insecure-plain": { type: "boolean", default: false },
  folder: { type: "boolean", default: false },
} as const;

type Values = ParsedOptions<typeof OPTIONS>["values"];

/** The `files` subcommand. */
export const filesCommand: CliCommand = {
  summary: "List, upload and download files in the hub's FTP store (FTPS)",
  usage: USAGE,
  async run(args) {
    const parsed = parseOptions(args, OPTIONS, USAGE);
    if (!parsed) return 2;
    const { values, positionals } = parsed;
    const [verb, first, second, ...extra] = positionals;
    const arity = verb === "list"
      ? first === undefined || second === undefined
      : first !== undefined;
    const oneRemote = verb === "mkdir" || verb === "delete";
    if (!["list", "put", "get", "mkdir", "delete"].includes(verb ?? "")) {
      err(verb === undefined ? USAGE : `Unknown files subcommand: ${verb}\n${USAGE}`);
      return 2;
    }
    if (!arity || extra.length > 0 || (oneRemote && second !== undefined)) {
      err(USAGE);
      return 2;
    }
    const opened = await openSession(values);
    if (typeof opened === "number") return opened;
    await using ftp = opened;
    return await runVerb(ftp, verb!, first, second, values);
  },
};

/** Opens the FTP session the options describe, or returns the exit code. */
async function openSession(values: Values): Promise<FtpClient | number> {
  const port = Number(values.port ?? Deno.env.get("FTP_PORT") ?? "2121");
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    err(`Not a port: ${values.port ?? Deno.env.get("FTP_PORT")}`);
    return 2;
  }
  const timeoutSeconds = Number(values.timeout ?? "30");
  if (!(timeoutSeconds > 0)) {
    err(`Not a timeout in seconds: ${values.timeout}`);
    return 2;
  }
  const user = values.user ?? Deno.env.get("FTP_USERNAME") ?? "user";
  const secret = await readSecret({
    label: `FTP password of ${user}`,
    argValue: values.password,
    option: "password",
    file: values["password-file"],
    envName: "FTP_PASSWORD",
  });
  if (!secret.ok) {
    err(secret.error);
    return 2;
  }
  const plain = values["insecure-plain"];
  const caCerts = plain ? [] : await trustedCerts(values.ca);
  if (caCerts === undefined) return 2;
  const hostname = values.host ?? Deno.env.get("FTP_SERVER_IP") ?? "127.0.0.1";
  const opened = await FtpClient.connect({
    hostname,
    port,
    user,
    password: secret.value,
    caCerts,
    insecurePlain: plain,
    timeoutMs: timeoutSeconds * 1000,
  });
  if (!opened.ok) {
    err(`Cannot open an FTP session as ${user} at ${hostname}:${port}: ${opened.error.message}`);
    return 1;
  }
  return opened.value;
}

/** The certificate to trust (--ca, $SSL_CERT or the default), or undefined after saying why not. */
async function trustedCerts(ca: string | undefined): Promise<string[] | undefined> {
  const caFile = ca !== undefined ? localPath(ca) : Deno.env.get("SSL_CERT") ?? "certs/server.crt";
  try {
    return [await Deno.readTextFile(caFile)];
  } catch (error) {
    err(`Cannot read the certificate to trust ${caFile}: ${(error as Error).message} (use --ca)`);
    return undefined;
  }
}

/** Runs one verb on an open session; returns the exit code. */
async function runVerb(
  ftp: FtpClient,
  verb: string,
  first: string | undefined,
  second: string | undefined,
  values: Values,
): Promise<number> {
  const showProgress = values.progress || Deno.stderr.isTerminal();
  switch (verb) {
    case "list":
      return await list(ftp, first ?? "", values.json);
    case "mkdir": {
      const made = await ftp.mkdir(first!);
      if (!made.ok) return failure("mkdir", made.error);
      out(`Created ${first}`);
      return 0;
    }
    case "delete": {
      const removed = await ftp.remove(first!, values.folder);
      if (!removed.ok) return failure("Delete", removed.error);
      out(`Deleted ${first}`);
      return 0;
    }
    case "put": {
      const local = localPath(first!);
      // A remote folder (`/photos/`) gets the file's own name.
      const remote = second === undefined || second.endsWith("/")
        ? `${second ?? ""}${basename(local)}`
        : second;
      return await transfer(
        "put",
        `${first} → ${remote}`,
        showProgress,
        (progress) => ftp.put(local, remote, progress),
      );
    }
    default: {
      const local = await intoFolder(localPath(second ?? "."), basename(first!));
      return await transfer(
        "get",
        `${first} → ${second ?? local}`,
        showProgress,
        (progress) => ftp.get(first!, local, progress),
      );
    }
  }
}

async function list(ftp: FtpClient, path: string, json: boolean): Promise<number> {
  const listed = await ftp.list(path);
  if (!listed.ok) return failure("List", listed.error);
  const entries = [...listed.value].sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) out(json ? JSON.stringify(entry) : formatEntry(entry));
  return 0;
}

function formatEntry(entry: RemoteEntry): string {
  const size = entry.size === null ? "-" : formatBytes(entry.size);
  const modified = entry.modified ? entry.modified.slice(0, 16).replace("T", " ") : "-";
  const name = entry.type === "dir" ? `${entry.name}/` : entry.name;
  return `${entry.type.padEnd(4)} ${size.padStart(12)}  ${modified.padEnd(16)}  ${name}`;
}

async function transfer(
  verb: "put" | "get",
  label: string,
  showProgress: boolean,
  run: (progress: (bytes: number, total: number | null) => void) => Promise<
    FtpResult<TransferSummary>
  >,
): Promise<number> {
  const bar = showProgress
    ? new ProgressBar(label, {
      terminal: Deno.stderr.isTerminal(),
      write: (text) => Deno.stderr.writeSync(encoder.encode(text)),
    })
    : undefined;
  const startedAt = performance.now();
  let last = 0;
  let lastTotal: number | null = null;
  const done = await run((bytes, total) => {
    last = bytes;
    lastTotal = total;
    bar?.update(bytes, total);
  });
  bar?.finish(last, lastTotal);
  if (!done.ok) return failure(verb === "put" ? "Upload" : "Download", done.error);
  const seconds = Math.max((performance.now() - startedAt) / 1000, 0.001);
  const { bytes } = done.value;
  out(
    `${verb === "put" ? "Uploaded" : "Downloaded"} ${label}: ${bytes} bytes in ${
      seconds.toFixed(2)
    } s (${formatBytes(bytes / seconds)}/s)`,
  );
  return 0;
}

function failure(what: string, error: FtpError): number {
  err(`${what} failed: ${error.message}`);
  return 1;
}

/** `path/name` when `path` is an existing folder, else `path`. */
async function intoFolder(path: string, name: string): Promise<string> {
  try {
    if ((await Deno.stat(path)).isDirectory) return join(path, name);
  } catch {
    // Not there yet: a new file.
  }
  return path;
}

/** A local path as the user meant it: relative to where `deno task` was started. */
function localPath(path: string): string {
  return resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), path);
}
