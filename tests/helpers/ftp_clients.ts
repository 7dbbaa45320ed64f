/**
 * Runs real FTP clients against a test hub: the scripted Python ftplib
 * client (`ftp_client.py`), curl and lftp.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import type { MessageType } from "../../broker/messages.ts";

/** One step of the scripted ftplib client (see ftp_client.py). */
export type FtpStep = Record<string, unknown> & { op: string };

/** What the client saw for one step. */
export interface FtpStepResult {
  readonly op: string;
  readonly code: number;
  readonly text?: string;
  readonly sha256?: string;
  readonly size?: number;
  readonly lines?: string[];
  readonly failed?: number;
  readonly failures?: string[];
  readonly seconds?: number;
}

const SCRIPT = new URL("./ftp_client.py", import.meta.url).pathname;

/** Runs the scripted client; returns one result per step. */
export async function runFtpClient(port: number, steps: FtpStep[]): Promise<FtpStepResult[]> {
  const output = await new Deno.Command("python3", {
    args: [SCRIPT, String(port), JSON.stringify(steps)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`ftp_client.py failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(text) as FtpStepResult[];
}

/** Steps that connect and log in (TLS when asked). */
export function loginSteps(user: string, password: string, tls = false): FtpStep[] {
  return [{ op: "connect", tls }, { op: "login", user, password }];
}

/** Runs a command line tool; returns its exit code and output. */
export async function runTool(
  command: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Resolves when an actor has handled a message of `type` (seen through the inspection hook). */
export function whenHandled(broker: Broker, type: MessageType): Promise<void> {
  return new Promise((resolve) => {
    const stop = broker.inspect((event) => {
      if (event.kind === "handled" && event.message.type === type) {
        stop();
        resolve();
      }
    });
  });
}

/** SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
