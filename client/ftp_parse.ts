/**
 * Pure parsing for the FTP client: reply lines (single and multi-line),
 * passive-mode answers, `FEAT` lists and directory listings (`MLSD` facts
 * and `ls -l` style `LIST` lines).
 *
 * @module
 */

/** One complete FTP reply: its code and the text of every line (code prefixes removed). */
export interface FtpReply {
  readonly code: number;
  readonly lines: readonly string[];
}

/** Collects reply lines until a reply is complete (`123-...` up to `123 ...`). */
export class ReplyAssembler {
  #code: number | null = null;
  #lines: string[] = [];

  /**
   * Adds one line (without CR LF). Returns the reply when this line completes it,
   * undefined when more lines are needed, or an error text for a line that starts no reply.
   */
  push(line: string): FtpReply | undefined | { readonly malformed: string } {
    const head = /^(\d{3})(?:([ -])(.*))?$/.exec(line);
    if (this.#code === null) {
      if (!head) return { malformed: line };
      const code = Number(head[1]);
      if (head[2] === "-") {
        this.#code = code;
        this.#lines = [head[3] ?? ""];
        return undefined;
      }
      return { code, lines: [head[3] ?? ""] };
    }
    // Inside a multi-line reply: it ends only at "<same code><space>" (or the bare code).
    if (head && Number(head[1]) === this.#code && head[2] !== "-") {
      const reply = { code: this.#code, lines: [...this.#lines, head[3] ?? ""] };
      this.#code = null;
      this.#lines = [];
      return reply;
    }
    this.#lines.push(
      head && Number(head[1]) === this.#code ? head[3] ?? "" : line.replace(/^ /, ""),
    );
    return undefined;
  }
}

/** The text of a reply, lines joined, for messages. */
export function replyText(reply: FtpReply): string {
  return reply.lines.map((l) => l.trim()).filter((l) => l !== "").join(" / ");
}

/** The port of a `229 Entering Extended Passive Mode (|||port|)` reply, or undefined. */
export function parseEpsv(text: string): number | undefined {
  const match = /\((.)\1\1(\d{1,5})\1\)/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  return port > 0 && port < 65536 ? port : undefined;
}

/** The port of a `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` reply, or undefined. */
export function parsePasv(text: string): number | undefined {
  const match = /(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})/.exec(text);
  if (!match) return undefined;
  const port = Number(match[5]) * 256 + Number(match[6]);
  return port > 0 && port < 65536 ? port : undefined;
}

/** The feature names of a `211-Features` reply, upper-case (`MLSD`, `SIZE`, `EPSV`...). */
export function parseFeatures(reply: FtpReply): Set<string> {
  const features = new Set<string>();
  if (reply.code !== 211) return features;
  for (const line of reply.lines.slice(1, -1)) {
    const name = line.trim().split(/\s+/)[0];
    if (name) features.add(name.toUpperCase());
  }
  return features;
}

/** One entry of a remote folder. */
export interface RemoteEntry {
  readonly name: string;
  readonly type: "file" | "dir" | "link" | "other";
  /** Bytes, when the server said. */
  readonly size: number | null;
  /** ISO 8601 (UTC), when the server said; minute precision from `LIST`. */
  readonly modified: string | null;
}

/** Parses one `MLSD` line (`type=file;size=3;modify=20240102030405; name`); undefined when it is none. */
export function parseMlsdLine(line: string): RemoteEntry | undefined {
  const space = line.indexOf(" ");
  if (space <= 0) return undefined;
  const name = line.slice(space + 1);
  const facts = new Map<string, string>();
  for (const fact of line.slice(0, space).split(";")) {
    const eq = fact.indexOf("=");
    if (eq > 0) facts.set(fact.slice(0, eq).toLowerCase(), fact.slice(eq + 1));
  }
  const kind = (facts.get("type") ?? "").toLowerCase();
  if (kind === "cdir" || kind === "pdir" || name === "") return undefined;
  const type = kind === "file"
    ? "file"
    : kind === "dir"
    ? "dir"
    : kind.startsWith("os.unix=symlink") || kind.startsWith("os.unix=slink")
    ? "link"
    : "other";
  const size = facts.get("size");
  const modify = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(facts.get("modify") ?? "");
  const modified = modify
    ? new Date(Date.UTC(
      Number(modify[1]),
      Number(modify[2]) - 1,
      Number(modify[3]),
      Number(modify[4]),
      Number(modify[5]),
      Number(modify[6]),
    ))
    : null;
  return {
    name,
    type,
    size: size !== undefined && /^\d+$/.test(size) ? Number(size) : null,
    modified: modified && !Number.isNaN(modified.getTime()) ? modified.toISOString() : null,
  };
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const LIST_LINE =
  /^([-dlbcps])[-rwxsStTl@+.]{9,}\s+\d+\s+\S+\s+\S+\s+(\d+)\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}|\d{4})\s(.+)$/;

/**
 * Parses one `ls -l` style `LIST` line (times taken as UTC; a date without a
 * year is in the last twelve months before `nowMs`); undefined when it is none
 * (`total 12`, say). For a symbolic link, the name stops before ` -> `.
 */
export function parseListLine(line: string, nowMs: number): RemoteEntry | undefined {
  const match = LIST_LINE.exec(line);
  if (!match) return undefined;
  const [, mode, size, monthName, day, yearOrTime, rawName] = match;
  const type = mode === "-" ? "file" : mode === "d" ? "dir" : mode === "l" ? "link" : "other";
  const name = type === "link" ? rawName!.split(" -> ")[0]! : rawName!;
  if (name === "." || name === "..") return undefined;
  const month = MONTHS.indexOf(monthName!.toLowerCase());
  let modified: string | null = null;
  if (month >= 0) {
    if (yearOrTime!.includes(":")) {
      const [h, m] = yearOrTime!.split(":").map(Number) as [number, number];
      const year = new Date(nowMs).getUTCFullYear();
      let at = Date.UTC(year, month, Number(day), h, m);
      if (at > nowMs + 86_400_000) at = Date.UTC(year - 1, month, Number(day), h, m);
      modified = new Date(at).toISOString();
    } else {
      modified = new Date(Date.UTC(Number(yearOrTime), month, Number(day))).toISOString();
    }
  }
  return { name, type, size: Number(size), modified };
}
