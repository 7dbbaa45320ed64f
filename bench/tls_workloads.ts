/**
 * TLS rows, the hub against the servers users would pick instead, in the
 * same run with the same clients:
 *
 * - connect-per-command at 1 and 16 clients, every server driven by the
 *   Node-style client (node_style_client.ts): the hub (login + command),
 *   the seed-style Python TLS server (one command), Mosquitto (CONNECT +
 *   QoS 1 PUBLISH + DISCONNECT); then the hub with its own client (login,
 *   command and `quit` in one write);
 * - persistent connections, 1×1, 16×1 and 16×16 in flight: the hub's
 *   commands against Mosquitto's QoS 1 PUBLISH → PUBACK;
 * - the listener trade-off (README "Why node:tls"): a bare `node:tls`
 *   server against a bare `Deno.listenTls` one, both answering one line and
 *   keeping the connection open, with the Node-style client;
 * - the TLS ceiling: the persistent shapes against those bare servers
 *   (they parse, authenticate and record nothing), the most any server on
 *   Deno's TLS could do with this client.
 *
 * @module
 */
import type { BenchContext } from "./main.ts";
import { type BenchRow, failedRow, type PeerFigure, peerFigure, peerRow } from "./report.ts";
import { connectPerCommand, pipelined, type TlsTarget } from "./tls_load.ts";
import { HUB_DIALECT } from "./hub_dialect.ts";
import { startChild } from "./child_server.ts";
import { nodeStyleConnectPerCommand, textExchange } from "./node_style_client.ts";
import { mqttExchange, mqttPipelined } from "./mqtt_load.ts";
import { type MosquittoPeer, startMosquitto } from "./peers/mosquitto_peer.ts";
import { startSeedPeer } from "./peers/seed_peer.ts";
import type { LoopFigures } from "./latency.ts";

/** The persistent shapes: connections × requests in flight on each. */
export const PERSISTENT_SHAPES = [[1, 1], [16, 1], [16, 16]] as const;

const hubFigure = (f: LoopFigures) => ({
  value: f.rate,
  p50Ms: f.p50Ms,
  p99Ms: f.p99Ms,
  errors: f.errors,
});

const reason = (error: unknown) => error instanceof Error ? error.message : String(error);

async function guarded(
  run: () => Promise<LoopFigures>,
): Promise<LoopFigures | { unavailable: string }> {
  try {
    return await run();
  } catch (error) {
    return { unavailable: `failed: ${reason(error)}` };
  }
}

export const hubOnce = textExchange(
  [...HUB_DIALECT.hello, HUB_DIALECT.request(0)],
  2,
  HUB_DIALECT.ok,
);
const seedOnce = textExchange(["lamp toggle"], 0, (l) => l.endsWith("executed."), true);

/** Runs the TLS rows. */
export async function runTlsWorkloads(ctx: BenchContext): Promise<BenchRow[]> {
  const port = ctx.port("tls");
  if (port === undefined) return [failedRow("tls", "cmd/s", "The hub has no tls listener")];
  const hub: TlsTarget = { port, caCert: ctx.caCert };
  const bounds = { maxRequests: ctx.mode.maxRequests, seconds: ctx.mode.seconds };
  const fresh = {
    ...bounds,
    maxRequests: Math.min(bounds.maxRequests, ctx.mode.maxFreshConnections),
  };
  const rows: BenchRow[] = [];
  const mosquitto = await startMosquitto(ctx.dir, ctx.certPath, ctx.keyPath);
  const seed = await startSeedPeer("tls", [ctx.certPath, ctx.keyPath]);
  try {
    const mqtt = (run: (peer: MosquittoPeer, target: TlsTarget) => Promise<LoopFigures>) =>
      "unavailable" in mosquitto
        ? Promise.resolve({ unavailable: mosquitto.unavailable })
        : guarded(() => run(mosquitto, { port: mosquitto.port, caCert: ctx.caCert }));
    for (const c of [1, 16]) {
      const peers: PeerFigure[] = [];
      peers.push(peerFigure(
        "seed (Python ssl)",
        "unavailable" in seed ? seed : await guarded(() =>
          nodeStyleConnectPerCommand(
            { port: seed.info.port as number, caCert: ctx.caCert },
            () => seedOnce,
            c,
            fresh,
          )
        ),
      ));
      peers.push(peerFigure(
        "mosquitto",
        await mqtt((mq, target) =>
          nodeStyleConnectPerCommand(target, (i) => mqttExchange(i, mq.login), c, fresh)
        ),
      ));
      const h = await nodeStyleConnectPerCommand(hub, () => hubOnce, c, fresh);
      rows.push(peerRow(`tls.connect_per_command node-style c=${c}`, "cmd/s", hubFigure(h), peers, {
        minRatio: 1,
      }));
      const own = await connectPerCommand(hub, HUB_DIALECT, c, fresh);
      rows.push(
        peerRow(`tls.connect_per_command hub-client c=${c}`, "cmd/s", hubFigure(own), peers),
      );
    }
    for (const [c, depth] of PERSISTENT_SHAPES) {
      const peer = peerFigure(
        "mosquitto QoS 1",
        await mqtt((mq, target) => mqttPipelined(target, mq.login, c, depth, bounds)),
      );
      const h = await pipelined(hub, HUB_DIALECT, c, depth, bounds);
      rows.push(peerRow(`tls.persistent ${c}x${depth}`, "cmd/s", hubFigure(h), [peer], {
        minRatio: 1,
      }));
    }
  } finally {
    if (!("unavailable" in mosquitto)) await mosquitto.stop();
    if (!("unavailable" in seed)) await seed.stop();
  }
  rows.push(...await listenerTradeOff(ctx, fresh, bounds));
  return rows;
}

/** node:tls against Deno.listenTls, bare, replies kept open (the hub's pattern). */
async function listenerTradeOff(
  ctx: BenchContext,
  bounds: { maxRequests: number; seconds: number },
  persistentBounds: { maxRequests: number; seconds: number },
): Promise<BenchRow[]> {
  const start = (kind: string) =>
    startChild({
      entry: "bench/baseline_server.ts",
      args: [kind, ctx.certPath, ctx.keyPath],
      permissions: [`--allow-read=${ctx.dir}`, "--allow-net=127.0.0.1", "--allow-env"],
    });
  await using node = await start("node-tls-held");
  await using deno = await start("tls-held");
  const once = textExchange(["lamp toggle"], 1, () => true);
  const rows: BenchRow[] = [];
  for (const c of [1, 16]) {
    const d = await guarded(() =>
      nodeStyleConnectPerCommand(
        { port: deno.info.port as number, caCert: ctx.caCert },
        () => once,
        c,
        bounds,
      )
    );
    const n = await nodeStyleConnectPerCommand(
      { port: node.info.port as number, caCert: ctx.caCert },
      () => once,
      c,
      bounds,
    );
    rows.push(peerRow(
      `tls.listener node:tls vs Deno.listenTls (bare, held open) c=${c}`,
      "cmd/s",
      hubFigure(n),
      [peerFigure("bare Deno.listenTls", d)],
    ));
  }
  // The ceiling of the TLS stack alone: the same persistent load against servers that do nothing.
  const echo = {
    hello: [],
    request: () => "lamp toggle",
    ok: (line: string) => line === "OK done",
  };
  for (const [c, depth] of PERSISTENT_SHAPES) {
    const d = await guarded(() =>
      pipelined(
        { port: deno.info.port as number, caCert: ctx.caCert },
        echo,
        c,
        depth,
        persistentBounds,
      )
    );
    const n = await pipelined(
      { port: node.info.port as number, caCert: ctx.caCert },
      echo,
      c,
      depth,
      persistentBounds,
    );
    rows.push(peerRow(
      `tls.ceiling bare node:tls echo, persistent ${c}x${depth}`,
      "cmd/s",
      hubFigure(n),
      [peerFigure("bare Deno.listenTls", d)],
    ));
  }
  return rows;
}
