/**
 * Loads the configuration once: environment settings plus the home file,
 * validated and frozen. An invalid value gives one clear error that names
 * the variable, or the file and field.
 *
 * @module
 */
import { resolve } from "node:path";
import { formatIssues, type Home, homeSchema } from "./home.ts";
import { parseSettings, type Settings, VARIABLE_NAMES } from "./settings.ts";
import demoHome from "./demo_home.json" with { type: "json" };

/** Shown as the home file's name when the built-in demo home is used. */
export const DEMO_HOME_NAME = "(built-in demo home)";

/** The hub's whole configuration. */
export interface Config {
  readonly settings: Settings;
  readonly home: Home;
  /** Absolute paths of every folder and file the hub uses. */
  readonly paths: {
    readonly dataDir: string;
    readonly database: string;
    readonly uploadFolder: string;
    /** The home file, or {@linkcode DEMO_HOME_NAME}. */
    readonly homeConfig: string;
    readonly cert: string;
    readonly key: string;
    /** MQTT_CA resolved, when set (issue 11). */
    readonly mqttCa?: string;
  };
}

/** Why the configuration could not be loaded. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Reads the hub's variables from the process environment. */
export function readEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of VARIABLE_NAMES) env[name] = Deno.env.get(name);
  return env;
}

/** Validates a parsed home file object; `file` is used in error lines. */
export function parseHome(
  data: unknown,
  file: string,
): { ok: true; value: Home } | { ok: false; error: ConfigError } {
  const parsed = homeSchema.safeParse(data);
  if (!parsed.success) {
    return { ok: false, error: new ConfigError(formatIssues(file, parsed.error.issues)) };
  }
  return { ok: true, value: parsed.data };
}

/**
 * Loads and validates the configuration.
 *
 * @param env variables (see {@linkcode readEnv})
 * @param cwd folder that relative paths are resolved against
 * @returns the frozen config, or the error naming what is wrong
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = Deno.cwd(),
): { ok: true; value: Config } | { ok: false; error: ConfigError } {
  const settings = parseSettings(env);
  if (!settings.ok) {
    return {
      ok: false,
      error: new ConfigError(`Invalid settings:\n${settings.error.lines.join("\n")}`),
    };
  }
  const s = settings.value;
  const homeConfig = s.HOME_CONFIG === undefined ? DEMO_HOME_NAME : resolve(cwd, s.HOME_CONFIG);
  const data = s.HOME_CONFIG === undefined ? demoHome : readHomeFile(homeConfig, s.HOME_CONFIG);
  if (data instanceof ConfigError) return { ok: false, error: data };
  const home = parseHome(structuredClone(data), homeConfig);
  if (!home.ok) return home;
  const clash = home.value.principals.findIndex((p) => p.id === s.FTP_USERNAME && p.ftp);
  if (clash >= 0) {
    return {
      ok: false,
      error: new ConfigError(
        `${homeConfig}: principals.${clash}.id: ${s.FTP_USERNAME} is also FTP_USERNAME, the seed's FTP user: rename one`,
      ),
    };
  }
  const bound = home.value.devices.findIndex((d) => d.binding !== undefined);
  if (bound >= 0 && s.MQTT_URL === undefined) {
    return {
      ok: false,
      error: new ConfigError(
        `${homeConfig}: devices.${bound}.binding: bound to a real device, but MQTT_URL is not set: set MQTT_URL to your broker (or remove the binding)`,
      ),
    };
  }
  const dataDir = resolve(cwd, s.DATA_DIR);
  const config: Config = {
    settings: s,
    home: deepFreeze(home.value),
    paths: Object.freeze({
      dataDir,
      database: resolve(dataDir, "hub.db"),
      uploadFolder: resolve(cwd, s.UPLOAD_FOLDER),
      homeConfig,
      cert: resolve(cwd, s.SSL_CERT),
      key: resolve(cwd, s.SSL_KEY),
      ...(s.MQTT_CA === undefined ? {} : { mqttCa: resolve(cwd, s.MQTT_CA) }),
    }),
  };
  return { ok: true, value: Object.freeze(config) };
}

/**
 * Reads and validates the home at `homeConfig` (a path, or {@linkcode DEMO_HOME_NAME} for the
 * built-in demo home): what SIGHUP re-reads.
 */
export function loadHome(
  homeConfig: string,
): { ok: true; value: Home } | { ok: false; error: ConfigError } {
  const data = homeConfig === DEMO_HOME_NAME ? demoHome : readHomeFile(homeConfig, homeConfig);
  if (data instanceof ConfigError) return { ok: false, error: data };
  return parseHome(structuredClone(data), homeConfig);
}

function readHomeFile(path: string, asGiven: string): unknown {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "file not found" : String(error);
    return new ConfigError(`HOME_CONFIG=${asGiven}: ${reason}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    return new ConfigError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
