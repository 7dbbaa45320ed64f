/**
 * The OpenAPI 3.1 document of the HTTP API, served at `/api/openapi.json`.
 * `docs/API.md` says the same in words, with a curl example per call.
 *
 * @module
 */
import { STATUS_OF_CODE } from "./http_errors.ts";

const error = { $ref: "#/components/schemas/Error" };
const refusal = (description: string) => ({
  description,
  content: { "application/json": { schema: error } },
});
const ok = (description: string, schema: unknown) => ({
  description,
  content: { "application/json": { schema } },
});
const common = {
  "401": refusal("unauthenticated: no, wrong or expired credentials"),
  "429": refusal("rate_limited: too many requests (see Retry-After)"),
  "503": refusal("busy: the hub is overloaded; retry"),
};
const deviceId = {
  name: "id",
  in: "path",
  required: true,
  schema: { type: "string", pattern: "^[a-z0-9][a-z0-9_-]{0,47}$" },
};

/** The OpenAPI document. */
export const OPENAPI_DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "Smart-home hub API",
    version: "1",
    description:
      "Devices, commands, audit log and live events of the hub. Authenticate with `Authorization: Bearer <principal>:<token>` (the principal's TLS token). Error codes map to statuses: " +
      Object.entries(STATUS_OF_CODE).map(([code, status]) => `${code} ${status}`).join(", "),
  },
  components: {
    securitySchemes: {
      bearer: { type: "http", scheme: "bearer", description: "<principal>:<token>" },
      session: { type: "apiKey", in: "cookie", name: "hub_session" },
    },
    schemas: {
      Error: {
        type: "object",
        required: ["error"],
        properties: {
          error: {
            type: "object",
            required: ["code", "message"],
            properties: {
              code: { type: "string", enum: Object.keys(STATUS_OF_CODE) },
              message: { type: "string" },
            },
          },
        },
      },
      Device: {
        type: "object",
        required: ["id", "type", "name", "room", "state", "updatedAt", "actions", "allowed"],
        properties: {
          id: { type: "string" },
          type: {
            type: "string",
            enum: ["light", "switch", "thermostat", "lock", "cover", "sensor", "camera"],
          },
          name: { type: "string" },
          room: { type: "string" },
          state: {
            type: "object",
            additionalProperties: { type: ["string", "number", "boolean", "null"] },
          },
          updatedAt: { type: ["string", "null"], format: "date-time" },
          actions: { type: "array", items: { type: "string" } },
          allowed: { type: "array", items: { type: "string" } },
          details: { type: "object" },
        },
      },
      Command: {
        type: "object",
        required: ["action"],
        additionalProperties: false,
        properties: {
          action: {
            type: "string",
            examples: ["on", "off", "toggle", "brightness", "set", "mode"],
          },
          value: { type: ["number", "string", "boolean", "null"] },
        },
      },
      AuditEntry: {
        type: "object",
        properties: {
          seq: { type: "integer" },
          at: { type: "string", format: "date-time" },
          principal: { type: ["string", "null"] },
          channel: { type: "string" },
          address: { type: ["string", "null"] },
          action: { type: "string" },
          device: { type: ["string", "null"] },
          outcome: { type: "string", enum: ["ok", "rejected", "failed"] },
          code: { type: ["string", "null"] },
          detail: {},
          hash: { type: "string" },
        },
      },
    },
  },
  security: [{ bearer: [] }, { session: [] }],
  paths: {
    "/api/devices": {
      get: {
        summary: "The devices the caller may see",
        responses: {
          "200": ok("Devices", {
            type: "object",
            properties: {
              devices: { type: "array", items: { $ref: "#/components/schemas/Device" } },
            },
          }),
          ...common,
        },
      },
    },
    "/api/devices/{id}": {
      get: {
        summary: "One device",
        parameters: [deviceId],
        responses: {
          "200": ok("The device", {
            type: "object",
            properties: { device: { $ref: "#/components/schemas/Device" } },
          }),
          "400": refusal("malformed id"),
          "403": refusal("forbidden: no grant on this device"),
          "404": refusal("unknown_device"),
          ...common,
        },
      },
    },
    "/api/devices/{id}/commands": {
      post: {
        summary: "Run one action; 200 means applied and durably recorded in the audit log",
        parameters: [deviceId],
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: "#/components/schemas/Command" } } },
        },
        responses: {
          "200": ok("The device after the command", {
            type: "object",
            properties: { device: { $ref: "#/components/schemas/Device" } },
          }),
          "400": refusal("malformed body or value"),
          "403": refusal("forbidden (or a missing CSRF token with the session cookie)"),
          "404": refusal("unknown_device"),
          "413": refusal("too_large body"),
          "422": refusal("unsupported_action or out_of_range"),
          "504": refusal("device_timeout / timeout: not applied"),
          ...common,
        },
      },
    },
    "/api/audit": {
      get: {
        summary: "Audit entries, newest first, paginated with `before`",
        parameters: ["device", "principal", "since", "until", "limit", "before"].map((name) => ({
          name,
          in: "query",
          required: false,
          schema: { type: name === "limit" || name === "before" ? "integer" : "string" },
        })),
        responses: {
          "200": ok("A page", {
            type: "object",
            properties: {
              entries: { type: "array", items: { $ref: "#/components/schemas/AuditEntry" } },
              nextBefore: { type: ["integer", "null"] },
            },
          }),
          "400": refusal("malformed filter"),
          ...common,
        },
      },
    },
    "/api/audit/verify": {
      get: {
        summary: "Verify the audit log's hash chain",
        responses: {
          "200": ok("The verdict", {
            type: "object",
            properties: {
              ok: { type: "boolean" },
              entries: { type: "integer" },
              lastSeq: { type: "integer" },
              brokenAt: { type: "integer" },
              reason: { type: "string" },
            },
          }),
          ...common,
        },
      },
    },
    "/api/events": {
      get: {
        summary: "Server-Sent Events: snapshot, state, camera; resumable with Last-Event-ID",
        responses: { "200": { description: "text/event-stream" }, ...common },
      },
    },
    "/api/ws": {
      get: {
        summary: "WebSocket: auth, get_devices, command, subscribe_events",
        responses: { "101": { description: "Upgraded" } },
      },
    },
    "/api/cameras/{id}/snapshot": {
      get: {
        summary: "The camera's latest snapshot (image bytes)",
        parameters: [deviceId],
        responses: {
          "200": { description: "The image", content: { "image/*": {} } },
          "403": refusal("forbidden"),
          "404": refusal("unknown_device, not a camera, or no snapshot yet"),
          ...common,
        },
      },
    },
    "/api/session": {
      post: {
        summary: "Page login: sets the session cookie, answers the CSRF token",
        security: [],
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["principal", "token"],
                properties: { principal: { type: "string" }, token: { type: "string" } },
              },
            },
          },
        },
        responses: {
          "200": ok("Logged in", {
            type: "object",
            properties: { principal: { type: "string" }, csrf: { type: "string" } },
          }),
          ...common,
        },
      },
      get: {
        summary: "Who is logged in (and the CSRF token)",
        responses: { "200": { description: "The session" }, ...common },
      },
      delete: {
        summary: "Log out (clears the cookie)",
        responses: { "200": { description: "Logged out" }, ...common },
      },
    },
  },
} as const;
