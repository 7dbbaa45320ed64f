/**
 * Every environment variable the hub reads: its name, default and meaning.
 * The seed's names (`TCP_SERVER_IP`, `FTP_PORT`, ...) keep their meaning.
 * This table is the single source for validation, `.env.example` and the
 * README's configuration reference.
 *
 * @module
 */
import { z } from "zod";
import { isValidTimeZone } from "../domain/automation/local_time.ts";

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
const host = z.string().min(1).regex(/^[A-Za-z0-9.:_-]+$/, {
  message: "must be a host name or an IP address",
}).refine((value) => !/^[0-9.]+$/.test(value) || isIpv4(value), {
  message: "is not an IPv4 address (four numbers 0-255, e.g. 127.0.0.1)",
});

/** True for a dotted-quad IPv4 address with every part 0-255. */
function isIpv4(value: string): boolean {
  const parts = value.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}
const path = z.string().min(1);
const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) =>
  v === "true" || v === "1" || v === "yes"
);

/** One documented variable. */
export interface VariableSpec {
  readonly schema: z.ZodType;
  readonly default: string | undefined;
  readonly help: string;
  /** True when the value is a secret (never logged, never printed back). */
  readonly secret?: boolean;
}

const v = <T extends z.ZodType, D extends string | undefined>(
  schema: T,
  defaultValue: D,
  help: string,
  secret = false,
): { schema: T; default: D; help: string; secret: boolean } => ({
  schema,
  default: defaultValue,
  help,
  secret,
});

/**
 * Every variable, grouped by section, in the order the README lists them.
 * A default of `undefined` means "not set unless you set it".
 */
export const VARIABLES = {
  // General
  DATA_DIR: v(path, "./data", "Folder of the database (hub.db) and generated secrets."),
  HOME_CONFIG: v(
    path,
    undefined,
    "The home file (devices and principals); unset: the built-in demo home.",
  ),
  LOG_LEVEL: v(z.enum(["debug", "info", "warning", "error"]), "info", "Lowest level logged."),
  LOG_FORMAT: v(z.enum(["text", "json"]), "text", "Readable lines or JSON lines on stderr."),
  SHUTDOWN_TIMEOUT_MS: v(positiveInt, "5000", "Longest time each shutdown stage may take."),
  // TLS command channel
  TCP_SERVER_IP: v(host, "127.0.0.1", "Address of the TLS command channel."),
  TCP_SERVER_PORT: v(port, "5000", "Port of the TLS command channel."),
  SSL_CERT: v(
    path,
    "certs/server.crt",
    "PEM certificate (chain); generated for development when missing.",
  ),
  SSL_KEY: v(
    path,
    "certs/server.key",
    "PEM private key; generated with the certificate when missing.",
  ),
  TLS_AUTH: v(
    z.enum(["token", "none"]),
    "token",
    "`token`: each connection logs in. `none`: seed compatibility, no login (warned).",
  ),
  TLS_MAX_LINE_BYTES: v(positiveInt, "4096", "Longest request line."),
  TLS_HANDSHAKE_TIMEOUT_MS: v(
    positiveInt,
    "5000",
    "Time a client has to finish the TLS handshake.",
  ),
  TLS_IDLE_TIMEOUT_MS: v(
    positiveInt,
    "300000",
    "Connections silent this long are closed (subscribed ones too, unless they ping).",
  ),
  TLS_UNTERMINATED_MS: v(
    positiveInt,
    "150",
    "Bytes without a newline that sit this long count as one command (seed clients).",
  ),
  TLS_MAX_CONNECTIONS: v(positiveInt, "1024", "Most TLS connections at once."),
  TLS_MAX_CONNECTIONS_PER_IP: v(positiveInt, "64", "Most TLS connections from one address."),
  TLS_LOGIN_TIMEOUT_MS: v(
    positiveInt,
    "10000",
    "Time from connect to login; past it the connection is closed whatever it sends (ping included).",
  ),
  TLS_PRELOGIN_MAX_CONNECTIONS: v(
    positiveInt,
    "256",
    "Most connections not logged in (below TLS_MAX_CONNECTIONS); when full, a newcomer closes the oldest.",
  ),
  TLS_PRELOGIN_MAX_CONNECTIONS_PER_IP: v(
    positiveInt,
    "32",
    "Most connections not logged in from one address.",
  ),
  TLS_COMMANDS_PER_SECOND: v(
    positiveInt,
    "200",
    "Commands per second per principal (token bucket, burst of the same size).",
  ),
  TLS_LOGINS_PER_SECOND: v(
    positiveInt,
    "5",
    "Failed logins per second per address (burst of twice as many); beyond it logins are refused.",
  ),
  // UDP channel
  UDP_SERVER_IP: v(host, "127.0.0.1", "Address of the UDP channel."),
  UDP_SERVER_PORT: v(port, "6000", "Port of the UDP channel."),
  UDP_AUTH: v(
    z.enum(["hmac", "none"]),
    "hmac",
    "`hmac`: signed datagrams only. `none`: seed compatibility, plain text commands (warned).",
  ),
  UDP_MAX_DATAGRAM_BYTES: v(positiveInt, "1200", "Largest datagram accepted."),
  UDP_WINDOW_SECONDS: v(
    positiveInt,
    "30",
    "How far a datagram's timestamp may be from the hub's clock.",
  ),
  UDP_REPLAY_CACHE: v(
    positiveInt,
    "65536",
    "Nonces remembered to detect replays (bounded memory).",
  ),
  UDP_RATE_PER_IP: v(positiveInt, "200", "Datagrams per second accepted from one address."),
  UDP_RATE_PER_PRINCIPAL: v(
    positiveInt,
    "100",
    "Datagrams per second accepted from one principal.",
  ),
  UDP_REPLY_CACHE: v(
    positiveInt,
    "4096",
    "Replies remembered so that a retransmitted datagram gets the same reply, applied once.",
  ),
  UDP_MAX_IN_FLIGHT: v(
    positiveInt,
    "1024",
    "Datagrams being applied at once; beyond it the hub answers busy.",
  ),
  // FTP / FTPS
  FTP_SERVER_IP: v(host, "127.0.0.1", "Address of the FTP server."),
  FTP_PORT: v(port, "2121", "Port of the FTP control connection."),
  FTP_PASV_IP: v(host, undefined, "Address announced for passive mode (default: FTP_SERVER_IP)."),
  FTP_PASV_MIN: v(
    port,
    "30000",
    "Lowest passive data port (0 with FTP_PASV_MAX=0: any free port).",
  ),
  FTP_PASV_MAX: v(port, "30015", "Highest passive data port (keep the range narrow)."),
  FTP_REQUIRE_TLS: v(bool, "true", "Refuse logins before AUTH TLS."),
  FTP_ALLOW_ACTIVE: v(bool, "false", "Allow active mode (PORT/EPRT); off to prevent FTP bounce."),
  UPLOAD_FOLDER: v(path, "./uploads", "Root of every FTP home; created when missing."),
  FTP_USERNAME: v(
    z.string().min(1).max(64),
    "user",
    "The seed's FTP user (permissions elradfmw in UPLOAD_FOLDER).",
  ),
  FTP_PASSWORD: v(
    z.string().min(1).max(256),
    undefined,
    "Its password; generated and printed once when unset.",
    true,
  ),
  FTP_MAX_FILE_BYTES: v(
    nonNegativeInt,
    "1073741824",
    "Largest file one upload may write (0 = no limit).",
  ),
  FTP_MAX_CONNECTIONS: v(positiveInt, "64", "Most FTP control connections at once."),
  FTP_MAX_CONNECTIONS_PER_IP: v(positiveInt, "8", "Most FTP control connections from one address."),
  FTP_MAX_LINE_BYTES: v(
    positiveInt,
    "4096",
    "Longest control command line; a longer one gets 500 and the connection is closed.",
  ),
  FTP_LOGIN_TIMEOUT_MS: v(
    positiveInt,
    "15000",
    "Time from connect to login; past it the connection is closed whatever it sends (NOOP included).",
  ),
  FTP_PRELOGIN_MAX_CONNECTIONS: v(
    positiveInt,
    "16",
    "Most control connections not logged in (below FTP_MAX_CONNECTIONS); when full, a newcomer closes the oldest.",
  ),
  FTP_PRELOGIN_MAX_CONNECTIONS_PER_IP: v(
    positiveInt,
    "4",
    "Most control connections not logged in from one address.",
  ),
  FTP_MAX_LOGIN_FAILURES: v(
    positiveInt,
    "5",
    "Failed logins from one address before it is refused for a while.",
  ),
  FTP_LOGIN_BAN_SECONDS: v(
    positiveInt,
    "300",
    "How long an address stays refused after too many failed logins.",
  ),
  FTP_IDLE_TIMEOUT_MS: v(
    positiveInt,
    "300000",
    "Idle control connections are closed after this long.",
  ),
  FTP_TRANSFER_TIMEOUT_MS: v(
    positiveInt,
    "120000",
    "A data transfer that moves no byte for this long is aborted.",
  ),
  FTP_RETENTION_INTERVAL_MS: v(positiveInt, "3600000", "How often retention rules run."),
  FTP_LOGIN_FAILURE_DELAY_MS: v(
    nonNegativeInt,
    "1000",
    "Delay before answering a failed FTP login (slows password guessing).",
  ),
  // Audit log
  AUDIT_SYNC: v(
    z.enum(["normal", "full"]),
    "normal",
    "`normal`: committed to the database file (survives a killed process). `full`: also flushed to disk at every group commit (survives power loss, slower).",
  ),
  AUDIT_RETENTION_DAYS: v(
    nonNegativeInt,
    "365",
    "Delete audit entries older than N days (0 = keep them however old).",
  ),
  AUDIT_RETENTION_MB: v(
    nonNegativeInt,
    "1024",
    "Delete the oldest audit entries when the database uses more than N MiB (0 = no cap).",
  ),
  AUDIT_RETENTION_ENTRIES: v(nonNegativeInt, "0", "Keep at most N audit entries (0 = keep all)."),
  // Real devices over MQTT (issue 11): off when MQTT_URL is unset
  MQTT_URL: v(
    z.string().regex(/^mqtts?:\/\/(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?\/?$/, {
      message: "must be mqtt://host[:port] or mqtts://host[:port] (no user, password or path)",
    }),
    undefined,
    "Your MQTT broker, e.g. `mqtts://broker.lan:8883` or `mqtt://127.0.0.1:1883`; unset: no real devices.",
  ),
  MQTT_USERNAME: v(z.string().min(1).max(256), undefined, "User name at the MQTT broker."),
  MQTT_PASSWORD: v(z.string().min(1).max(256), undefined, "Its password.", true),
  MQTT_CA: v(
    path,
    undefined,
    "PEM certificate(s) to trust for `mqtts://` (default: the system's roots).",
  ),
  MQTT_CLIENT_ID: v(
    z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, {
      message: "1-64 characters of A-Z, a-z, 0-9, _ or -",
    }),
    "smart-home-hub",
    "MQTT client id of the hub (also the `src` of Shelly RPC requests).",
  ),
  MQTT_CONFIRM_TIMEOUT_MS: v(
    z.coerce.number().int().min(100).max(8000),
    "3000",
    "How long a bound device has to confirm a command (a binding's `confirmTimeoutMs` overrides it).",
  ),
  MQTT_MAX_PAYLOAD_BYTES: v(
    positiveInt,
    "262144",
    "Largest MQTT message the bridge reads; larger ones are refused (the Zigbee2MQTT device list is the largest).",
  ),
  MQTT_RECONNECT_MAX_MS: v(
    z.coerce.number().int().min(100).max(600000),
    "30000",
    "Longest wait between reconnection attempts (the wait doubles from 500 ms up to this).",
  ),
  MQTT_REPORTS_PER_SECOND: v(
    positiveInt,
    "50",
    "Reports accepted per second per device topic; beyond it they are refused and summarised.",
  ),
  // Automations
  TZ: v(
    z.string().min(1).max(64).refine(isValidTimeZone, {
      message: "must be an IANA time zone such as Europe/Paris or UTC",
    }),
    undefined,
    "Time zone of time-of-day triggers and time conditions (IANA name); unset: the system's.",
  ),
  AUTOMATION_GRACE_SECONDS: v(
    nonNegativeInt,
    "300",
    "A time trigger due while the hub was down fires once at start if at most this late (0 = never).",
  ),
  // Operator surface
  HTTP_IP: v(
    host,
    "127.0.0.1",
    "Address of the web page, the HTTP API, /healthz and /metrics. Any non-loopback address serves HTTPS only, with the hub's certificate.",
  ),
  HTTP_PORT: v(
    port,
    "9100",
    "Port of the page, the API, /healthz and /metrics (0 = any free port).",
  ),
  HTTP_TLS: v(
    z.enum(["auto", "on"]),
    "auto",
    "`auto`: HTTPS with the hub's certificate on any non-loopback HTTP_IP, plain HTTP on loopback. `on`: HTTPS on loopback too.",
  ),
  HTTP_MAX_BODY_BYTES: v(positiveInt, "16384", "Largest request body the API accepts."),
  HTTP_RATE_PER_PRINCIPAL: v(
    positiveInt,
    "20",
    "API requests per second per principal (burst: twice).",
  ),
  HTTP_RATE_PER_IP: v(positiveInt, "50", "API requests per second per address (burst: twice)."),
  HTTP_MAX_CONNECTIONS: v(
    positiveInt,
    "256",
    "Most requests and streams (SSE, WebSocket) open at once on the HTTP listener.",
  ),
  HTTP_MAX_CONNECTIONS_PER_IP: v(
    positiveInt,
    "32",
    "Most requests and streams open at once from one address.",
  ),
  HTTP_WS_AUTH_TIMEOUT_MS: v(
    positiveInt,
    "10000",
    "How long a WebSocket client has to authenticate before it is closed.",
  ),
  HTTP_SESSION_TTL_SECONDS: v(positiveInt, "43200", "How long a page login lasts (seconds)."),
} as const satisfies Record<string, VariableSpec>;

/** A variable name the hub reads. */
export type VariableName = keyof typeof VARIABLES;

/** The names of every variable the hub reads. */
export const VARIABLE_NAMES = Object.keys(VARIABLES) as VariableName[];

/** The parsed value of variable `N` (undefined when it has no default and is unset). */
export type SettingValue<N extends VariableName> = (typeof VARIABLES)[N]["default"] extends string
  ? z.output<(typeof VARIABLES)[N]["schema"]>
  : z.output<(typeof VARIABLES)[N]["schema"]> | undefined;

/** Every setting, parsed. Optional ones are undefined when unset. */
export type Settings = { readonly [N in VariableName]: SettingValue<N> };

/** Why the settings are invalid: one line per variable. */
export interface SettingsError {
  readonly kind: "settings";
  readonly lines: readonly string[];
}

/**
 * Parses every variable from `env` (unset ones take their default).
 * Returns all problems at once, each naming its variable.
 */
export function parseSettings(
  env: Readonly<Record<string, string | undefined>>,
): { ok: true; value: Settings } | { ok: false; error: SettingsError } {
  const lines: string[] = [];
  const out: Record<string, unknown> = {};
  for (const name of VARIABLE_NAMES) {
    const spec: VariableSpec = VARIABLES[name];
    if (env[name] !== undefined && env[name]!.trim() === "") {
      const fallback = spec.default === undefined ? "" : ` (default ${spec.default})`;
      lines.push(`${name} is set but empty: give it a value or unset it${fallback}`);
      continue;
    }
    const raw = env[name] ?? spec.default;
    if (raw === undefined) {
      out[name] = undefined;
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) out[name] = parsed.data;
    else {
      const shown = spec.secret ? "(secret)" : JSON.stringify(raw);
      lines.push(`${name}=${shown}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
    }
  }
  if (Number(out.FTP_PASV_MIN) > Number(out.FTP_PASV_MAX)) {
    lines.push("FTP_PASV_MIN must not be above FTP_PASV_MAX");
  }
  if (Number(out.FTP_PASV_MAX) - Number(out.FTP_PASV_MIN) > 255) {
    lines.push("FTP_PASV_MAX - FTP_PASV_MIN must be at most 255 (keep the range narrow)");
  }
  if (out.MQTT_URL === undefined) {
    for (const name of ["MQTT_USERNAME", "MQTT_PASSWORD", "MQTT_CA"] as const) {
      if (out[name] !== undefined) {
        lines.push(`${name} is set but MQTT_URL is not: set MQTT_URL too`);
      }
    }
  } else if (out.MQTT_CA !== undefined && !String(out.MQTT_URL).startsWith("mqtts://")) {
    lines.push("MQTT_CA is set but MQTT_URL is not mqtts://: use mqtts:// or unset MQTT_CA");
  }
  if ((out.MQTT_USERNAME === undefined) !== (out.MQTT_PASSWORD === undefined)) {
    if (out.MQTT_URL !== undefined) {
      lines.push("MQTT_USERNAME and MQTT_PASSWORD go together: set both or neither");
    }
  }
  for (const channel of ["TLS", "FTP"] as const) {
    const share = Number(out[`${channel}_PRELOGIN_MAX_CONNECTIONS`]);
    if (share >= Number(out[`${channel}_MAX_CONNECTIONS`])) {
      lines.push(
        `${channel}_PRELOGIN_MAX_CONNECTIONS must be below ${channel}_MAX_CONNECTIONS (logged-in clients keep the rest)`,
      );
    }
  }
  if (lines.length === 0) lines.push(...portClashes(out));
  if (lines.length) return { ok: false, error: { kind: "settings", lines } };
  return { ok: true, value: Object.freeze(out) as Settings };
}

/** TCP listeners by the variable that names their port, with the variable naming their address. */
const TCP_LISTENERS = [
  ["TCP_SERVER_PORT", "TCP_SERVER_IP"],
  ["FTP_PORT", "FTP_SERVER_IP"],
  ["HTTP_PORT", "HTTP_IP"],
] as const;

/** Lines for two TCP listeners set on the same address and port (UDP has its own ports). */
function portClashes(values: Record<string, unknown>): string[] {
  const taken: { variable: string; host: string; port: number }[] = [];
  for (const [portName, hostName] of TCP_LISTENERS) {
    taken.push({
      variable: portName,
      host: String(values[hostName]),
      port: Number(values[portName]),
    });
  }
  const pasvMin = Number(values.FTP_PASV_MIN);
  const pasvMax = Number(values.FTP_PASV_MAX);
  const lines: string[] = [];
  const overlaps = (a: string, b: string) =>
    a === b || [a, b].some((h) => h === "0.0.0.0" || h === "::" || h === "[::]");
  taken.forEach((a, i) => {
    if (a.port === 0) return;
    for (const b of taken.slice(i + 1)) {
      if (b.port === a.port && overlaps(a.host, b.host)) {
        lines.push(
          `${a.variable}=${a.port} and ${b.variable}=${b.port}: two listeners cannot share one port: change one of them`,
        );
      }
    }
    if (
      pasvMax > 0 && a.port >= pasvMin && a.port <= pasvMax &&
      overlaps(a.host, String(values.FTP_SERVER_IP))
    ) {
      lines.push(
        `${a.variable}=${a.port} is inside the FTP passive range FTP_PASV_MIN..FTP_PASV_MAX (${pasvMin}-${pasvMax}): change one of them`,
      );
    }
  });
  return lines;
}
