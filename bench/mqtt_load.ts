/**
 * MQTT 3.1.1 load for the Mosquitto peer rows: a minimal codec (CONNECT with
 * username and password, QoS 1 PUBLISH, PUBACK, DISCONNECT) over the same
 * TLS clients as the hub's rows: persistent connections keeping `depth`
 * PUBLISH packets in flight (closed loop, PUBACKs come back in order), and
 * connect-per-command through the Node-style client (new TLS connection,
 * CONNECT, CONNACK, PUBLISH, PUBACK, DISCONNECT).
 *
 * @module
 */
import { connect, type LoadBounds, type TlsTarget } from "./tls_load.ts";
import { LatencyRecorder, type LoopFigures, summarise } from "./latency.ts";
import type { Exchange } from "./node_style_client.ts";

const encoder = new TextEncoder();

/** MQTT credentials of the peer. */
export interface MqttLogin {
  readonly username: string;
  readonly password: string;
}

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function str(s: string): number[] {
  const b = encoder.encode(s);
  return [b.length >> 8, b.length & 0xff, ...b];
}

function packet(type: number, body: readonly number[]): Uint8Array {
  return Uint8Array.from([type, ...remainingLength(body.length), ...body]);
}

/** CONNECT, clean session, keep-alive 60 s, with username and password. */
export function connectPacket(clientId: string, login: MqttLogin): Uint8Array {
  return packet(0x10, [
    ...str("MQTT"),
    4,
    0xc2,
    0,
    60,
    ...str(clientId),
    ...str(login.username),
    ...str(login.password),
  ]);
}

/** QoS 1 PUBLISH of `payload` on `topic` with packet id `id` (1..65535). */
export function publishPacket(topic: string, id: number, payload: string): Uint8Array {
  return packet(0x32, [...str(topic), id >> 8, id & 0xff, ...encoder.encode(payload)]);
}

/** DISCONNECT. */
export const DISCONNECT = Uint8Array.from([0xe0, 0]);

/** The complete packets at the start of `bytes`: [type nibble, body] each, and bytes used. */
export function readPackets(bytes: Uint8Array): { packets: [number, Uint8Array][]; used: number } {
  const packets: [number, Uint8Array][] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    let length = 0;
    let mul = 1;
    let k = at + 1;
    let complete = false;
    while (k < bytes.length && k < at + 5) {
      const b = bytes[k++]!;
      length += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        complete = true;
        break;
      }
    }
    if (!complete || k + length > bytes.length) break;
    packets.push([bytes[at]! >> 4, bytes.subarray(k, k + length)]);
    at = k + length;
  }
  return { packets, used: at };
}

const CONNACK = 2;
const PUBACK = 4;
const TOPIC = "home/lamp/set";
const PAYLOAD = "lamp toggle";

/** Connect-per-command as one Node-style exchange: CONNECT, PUBLISH after CONNACK, DISCONNECT. */
export function mqttExchange(i: number, login: MqttLogin): Exchange {
  let published = false;
  return {
    first: connectPacket(`bench-once-${i}`, login),
    last: DISCONNECT,
    next(received) {
      const { packets } = readPackets(received);
      const connack = packets[0];
      if (connack === undefined) return null;
      if (connack[0] !== CONNACK || connack[1][1] !== 0) return "failed";
      if (packets.some(([type]) => type === PUBACK)) return "done";
      if (published) return null;
      published = true;
      return publishPacket(TOPIC, 1, PAYLOAD);
    },
  };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) written += await conn.write(data.subarray(written));
}

async function openMqtt(target: TlsTarget, login: MqttLogin, n: number): Promise<Deno.TlsConn> {
  const conn = await connect(target);
  await writeAll(conn, connectPacket(`bench-${n}-${crypto.randomUUID().slice(0, 8)}`, login));
  const buffer = new Uint8Array(64);
  let have = 0;
  while (true) {
    const read = await conn.read(buffer.subarray(have));
    if (read === null) throw new Error("Mosquitto closed the connection before CONNACK");
    have += read;
    const { packets } = readPackets(buffer.subarray(0, have));
    const ack = packets[0];
    if (ack === undefined) continue;
    if (ack[0] !== CONNACK || ack[1][1] !== 0) {
      conn.close();
      throw new Error(`Mosquitto refused the login (CONNACK ${ack[1][1]})`);
    }
    return conn;
  }
}

/** Persistent QoS 1 publishing: `connections` × `depth` PUBLISH in flight. */
export async function mqttPipelined(
  target: TlsTarget,
  login: MqttLogin,
  connections: number,
  depth: number,
  bounds: LoadBounds,
): Promise<LoopFigures> {
  const conns = await Promise.all(
    Array.from({ length: connections }, (_, n) => openMqtt(target, login, n)),
  );
  const recorder = new LatencyRecorder();
  let issued = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + bounds.seconds * 1000;
  const mayIssue = () => issued < bounds.maxRequests && performance.now() < deadline;
  const run = async (conn: Deno.TlsConn) => {
    const sentAt: number[] = [];
    let head = 0;
    let nextId = 1;
    const batch = (n: number): Uint8Array[] => {
      const out: Uint8Array[] = [];
      const now = performance.now();
      for (let k = 0; k < n && mayIssue(); k++) {
        issued++;
        out.push(publishPacket(TOPIC, nextId, PAYLOAD));
        nextId = nextId === 65535 ? 1 : nextId + 1;
        sentAt.push(now);
      }
      return out;
    };
    const send = async (packets: Uint8Array[]) => {
      if (!packets.length) return;
      const all = new Uint8Array(packets.reduce((s, p) => s + p.length, 0));
      let at = 0;
      for (const p of packets) {
        all.set(p, at);
        at += p.length;
      }
      await writeAll(conn, all);
    };
    const buffer = new Uint8Array(64 * 1024);
    let have = 0;
    try {
      await send(batch(depth));
      while (head < sentAt.length) {
        const read = await conn.read(buffer.subarray(have));
        if (read === null) {
          errors += sentAt.length - head;
          break;
        }
        have += read;
        const { packets, used } = readPackets(buffer.subarray(0, have));
        buffer.copyWithin(0, used, have);
        have -= used;
        const now = performance.now();
        let answered = 0;
        for (const [type] of packets) {
          if (type !== PUBACK || head >= sentAt.length) continue;
          recorder.record(now - sentAt[head++]!);
          answered++;
        }
        if (head > 4096) {
          sentAt.splice(0, head);
          head = 0;
        }
        await send(batch(answered));
      }
      await writeAll(conn, DISCONNECT);
    } catch {
      errors += sentAt.length - head;
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  await Promise.all(conns.map(run));
  return summarise(recorder, (performance.now() - start) / 1000, errors);
}
