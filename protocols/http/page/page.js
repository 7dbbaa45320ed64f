// The hub's page: log in once (session cookie), then devices by room with live state (SSE),
// the activity feed with the audit chain's status, and the hub's health. No build step.
"use strict";

const view = { csrf: null, principal: null, devices: new Map(), events: null, timers: [] };
const $ = (id) => document.getElementById(id);

/** Builds an element: h("button", { type: "button", onclick }, "text", child). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && view.csrf) headers["x-csrf-token"] = view.csrf;
  try {
    const res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    return { ok: res.ok, status: res.status, data };
  } catch {
    return {
      ok: false,
      status: 0,
      data: { error: { code: "offline", message: "The hub cannot be reached" } },
    };
  }
}

const errorText = (
  r,
) => (r.data && r.data.error ? r.data.error.message : "Failed (" + r.status + ")");

// ------------------------------------------------------------------ login and session

function showLogin(message) {
  stopLive();
  view.csrf = null;
  view.principal = null;
  $("app").hidden = true;
  $("login").hidden = false;
  $("who").hidden = true;
  $("logout").hidden = true;
  $("login-error").textContent = message || "";
  $("principal").focus();
}

async function showApp(session) {
  view.csrf = session.csrf;
  view.principal = session.principal;
  $("login").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  $("who").textContent = "Logged in as " + session.principal;
  $("logout").hidden = false;
  const listed = await api("GET", "/api/devices");
  if (listed.status === 401) return showLogin("Your session ended: log in again");
  if (listed.ok) setDevices(listed.data.devices);
  connectEvents();
  loadAudit();
  loadHealth();
  // Refusals and logins change no state: the feed is also refreshed every few seconds.
  view.timers.push(setInterval(loadHealth, 10000), setInterval(loadAudit, 15000));
}

function stopLive() {
  if (view.events) view.events.close();
  view.events = null;
  for (const t of view.timers) clearInterval(t);
  view.timers = [];
  setLive("offline", "");
}

async function login(event) {
  event.preventDefault();
  $("login-error").textContent = "";
  const r = await api("POST", "/api/session", {
    principal: $("principal").value.trim(),
    token: $("token").value,
  });
  if (!r.ok) {
    $("login-error").textContent = errorText(r);
    return;
  }
  $("token").value = "";
  await showApp(r.data);
}

async function logout() {
  await api("DELETE", "/api/session");
  showLogin("Logged out");
}

// ------------------------------------------------------------------ live updates (SSE)

function setLive(text, cls) {
  const el = $("live");
  el.textContent = text;
  el.className = "pill " + cls;
}

function connectEvents() {
  if (view.events) view.events.close();
  const es = new EventSource("/api/events");
  view.events = es;
  es.onopen = () => setLive("live", "ok");
  es.addEventListener("snapshot", (e) => setDevices(JSON.parse(e.data).devices));
  es.addEventListener("state", (e) => {
    const change = JSON.parse(e.data);
    const device = view.devices.get(change.device);
    if (device) {
      device.state = change.state;
      device.updatedAt = change.at;
      renderCard(device);
    }
    scheduleAudit();
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      // Refused (session over) or the hub answered something else: check the session, then retry.
      setLive("reconnecting…", "warn");
      setTimeout(async () => {
        if (view.events !== es) return;
        const s = await api("GET", "/api/session");
        if (s.status === 401) return showLogin("Your session ended: log in again");
        connectEvents();
      }, 2000);
    } else setLive("reconnecting…", "warn");
  };
}

// ------------------------------------------------------------------ devices

function setDevices(devices) {
  view.devices = new Map(devices.map((d) => [d.id, d]));
  const rooms = new Map();
  for (const d of devices) {
    if (!rooms.has(d.room)) rooms.set(d.room, []);
    rooms.get(d.room).push(d);
  }
  const container = $("rooms");
  container.replaceChildren();
  for (const room of [...rooms.keys()].sort()) {
    const grid = h("div", { class: "grid" });
    container.append(h("section", { class: "room", "data-room": room }, h("h2", {}, room), grid));
    for (const d of rooms.get(room)) {
      grid.append(h("article", { class: "card device", "data-device": d.id }));
    }
  }
  for (const d of devices) renderCard(d);
  if (devices.length === 0) {
    container.append(h("p", { class: "hint" }, "No device is shared with you."));
  }
}

async function command(device, action, value) {
  const card = document.querySelector('[data-device="' + device.id + '"]');
  const error = card && card.querySelector(".error");
  if (error) error.textContent = "";
  const body = value === undefined ? { action } : { action, value };
  const r = await api("POST", "/api/devices/" + encodeURIComponent(device.id) + "/commands", body);
  scheduleAudit();
  if (r.ok) {
    const fresh = r.data.device;
    view.devices.set(fresh.id, fresh);
    renderCard(fresh);
    return;
  }
  if (r.status === 401) return showLogin("Your session ended: log in again");
  const again = document.querySelector('[data-device="' + device.id + '"] .error');
  if (again) again.textContent = errorText(r);
}

const may = (d, action) => d.allowed.includes(action);

function describe(d) {
  const s = d.state;
  switch (d.type) {
    case "light":
    case "switch":
      return s.power === "on" ? (d.details.dimmable ? "On · " + s.brightness + "%" : "On") : "Off";
    case "thermostat":
      return s.target + " °C · " + s.mode;
    case "lock":
      return s.locked ? "Locked" : "Unlocked";
    case "cover":
      return s.position === 0 ? "Closed" : s.position === 100 ? "Open" : "Open " + s.position + "%";
    case "sensor": {
      const metric = d.details.metric || "value";
      const value = s[metric];
      return value === null || value === undefined
        ? "No reading yet"
        : value + (d.details.unit ? " " + d.details.unit : "");
    }
    case "camera":
      return s.snapshotAt ? "Snapshot" : "No snapshot yet";
    default:
      return "";
  }
}

function controlsOf(d) {
  const s = d.state;
  const button = (label, action, value, extra) =>
    h("button", {
      type: "button",
      disabled: !may(d, action),
      "data-action": action,
      onclick: () => command(d, action, value),
      ...extra,
    }, label);
  switch (d.type) {
    case "light":
    case "switch": {
      const on = s.power === "on";
      const next = on ? "off" : "on";
      const action = may(d, next) ? next : "toggle";
      const items = [
        button(on ? "On" : "Off", action, undefined, {
          "aria-pressed": String(on),
          "data-action": "power",
          title: "Turn " + next,
        }),
      ];
      if (d.details.dimmable) {
        items.push(h(
          "label",
          {},
          "Brightness",
          h("input", {
            type: "range",
            min: 0,
            max: 100,
            step: 1,
            value: s.brightness,
            disabled: !may(d, "brightness"),
            "data-action": "brightness",
            onchange: (e) => command(d, "brightness", Number(e.target.value)),
          }),
        ));
      }
      return items;
    }
    case "thermostat": {
      const input = h("input", {
        type: "number",
        step: 0.5,
        min: d.details.minTarget,
        max: d.details.maxTarget,
        value: s.target,
        disabled: !may(d, "set"),
        "data-action": "set-value",
        "aria-label": "Target °C",
      });
      const mode = h(
        "select",
        {
          disabled: !may(d, "mode"),
          "data-action": "mode",
          "aria-label": "Mode",
          onchange: (e) => command(d, "mode", e.target.value),
        },
        ...["heat", "cool", "off"].map((m) => h("option", { value: m, selected: m === s.mode }, m)),
      );
      return [
        input,
        h("button", {
          type: "button",
          disabled: !may(d, "set"),
          "data-action": "set",
          onclick: () => command(d, "set", Number(input.value)),
        }, "Set"),
        mode,
      ];
    }
    case "lock":
      return [button("Lock", "lock"), button("Unlock", "unlock")];
    case "cover":
      return [
        button("Open", "open"),
        button("Close", "close"),
        h(
          "label",
          {},
          "Position",
          h("input", {
            type: "range",
            min: 0,
            max: 100,
            step: 1,
            value: s.position,
            disabled: !may(d, "position"),
            "data-action": "position",
            onchange: (e) => command(d, "position", Number(e.target.value)),
          }),
        ),
      ];
    case "camera": {
      if (!s.snapshotSha256) {
        return [h("p", { class: "hint" }, "Waiting for the camera's first upload.")];
      }
      const img = h("img", {
        class: "snapshot",
        alt: d.name + " snapshot",
        src: "/api/cameras/" + encodeURIComponent(d.id) + "/snapshot?v=" +
          encodeURIComponent(s.snapshotSha256),
      });
      return [
        h(
          "figure",
          { class: "shot" },
          img,
          h("figcaption", { class: "caption" }, "Taken " + new Date(s.snapshotAt).toLocaleString()),
        ),
      ];
    }
    default:
      return [];
  }
}

function renderCard(d) {
  const card = document.querySelector('[data-device="' + d.id + '"]');
  if (!card) return;
  const kept = card.querySelector(".error");
  const errorText = kept ? kept.textContent : "";
  card.replaceChildren(
    h("header", {}, h("h3", {}, d.name), h("span", { class: "type" }, d.type)),
    h("p", { class: d.type === "camera" ? "state small" : "state", "data-state": "" }, describe(d)),
    h("div", { class: "controls" }, ...controlsOf(d)),
    h("p", { class: "error", role: "alert" }, errorText),
  );
}

// ------------------------------------------------------------------ activity and health

let auditTimer = null;
function scheduleAudit() {
  if (auditTimer) return;
  auditTimer = setTimeout(() => {
    auditTimer = null;
    loadAudit();
  }, 300);
}

async function loadAudit() {
  const r = await api("GET", "/api/audit?limit=20");
  if (r.ok) {
    $("audit").replaceChildren(...r.data.entries.map((e) => {
      const what = [
        e.action,
        e.device,
        e.detail && e.detail.command ? "“" + e.detail.command + "”" : "",
      ].filter(Boolean).join(" ");
      const outcome = e.outcome === "ok" ? "" : " → " + (e.code || e.outcome);
      return h(
        "li",
        { class: e.outcome, "data-seq": e.seq },
        h("span", {}, what + outcome),
        h(
          "span",
          { class: "meta" },
          new Date(e.at).toLocaleTimeString() + " · " + (e.principal || "not logged in") + " via " +
            e.channel,
        ),
      );
    }));
  }
  loadChain();
}

async function loadChain() {
  const r = await api("GET", "/api/audit/verify");
  const el = $("chain");
  if (!r.ok) {
    el.textContent = "chain unknown";
    el.className = "pill warn";
  } else if (r.data.ok) {
    el.textContent = "chain verified · " + r.data.entries;
    el.className = "pill ok";
  } else {
    el.textContent = "chain broken at #" + r.data.brokenAt;
    el.className = "pill bad";
    el.title = r.data.reason;
  }
}

async function loadHealth() {
  const r = await api("GET", "/healthz");
  const pill = $("health");
  if (!r.data || !r.data.listeners) {
    pill.textContent = "hub unreachable";
    pill.className = "pill bad";
    return;
  }
  pill.textContent = r.data.status === "ok" ? "healthy" : "unhealthy";
  pill.className = "pill " + (r.data.status === "ok" ? "ok" : "bad");
  const items = [];
  for (const [name, l] of Object.entries(r.data.listeners)) {
    items.push(h("li", { class: l.up ? "" : "down" }, name + " :" + l.port));
  }
  for (const [name, a] of Object.entries(r.data.actors)) {
    items.push(h("li", { class: a.up ? "" : "down" }, name + " actor"));
  }
  items.push(h("li", { class: r.data.database.up ? "" : "down" }, "database"));
  $("health-list").replaceChildren(...items);
}

// ------------------------------------------------------------------ start

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  loadHealth();
  const s = await api("GET", "/api/session");
  if (s.ok && s.data.principal && s.data.csrf) await showApp(s.data);
  else showLogin("");
});
