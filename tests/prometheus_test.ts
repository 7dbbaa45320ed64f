/** The Prometheus text writer and parser. */
import assert from "node:assert/strict";
import { parsePrometheus, PrometheusWriter } from "../observability/prometheus.ts";
import { splitKey } from "../observability/hub_metrics.ts";

Deno.test("PrometheusWriter writes HELP and TYPE once per family and escapes label values", () => {
  const text = new PrometheusWriter()
    .counter("hub_x_total", "Things\ncounted", [
      { labels: { reason: 'say "hi"\\' }, value: 2 },
      { value: 1 },
    ])
    .text();
  assert.equal(
    text,
    '# HELP hub_x_total Things\\ncounted\n# TYPE hub_x_total counter\nhub_x_total{reason="say \\"hi\\"\\\\"} 2\nhub_x_total 1\n',
  );
  assert.deepEqual(parsePrometheus(text)[0]?.labels, { reason: 'say "hi"\\' });
});

Deno.test("PrometheusWriter writes histograms as cumulative buckets with +Inf, sum and count", () => {
  const text = new PrometheusWriter()
    .histogram("hub_h_seconds", "Time", [{
      labels: { actor: "a" },
      bounds: [0.1, 1],
      counts: [2, 3, 1],
      sum: 4.5,
    }])
    .text();
  const samples = parsePrometheus(text);
  const bucket = (le: string) =>
    samples.find((s) => s.name === "hub_h_seconds_bucket" && s.labels.le === le)?.value;
  assert.equal(bucket("0.1"), 2);
  assert.equal(bucket("1"), 5);
  assert.equal(bucket("+Inf"), 6);
  assert.equal(samples.find((s) => s.name === "hub_h_seconds_count")?.value, 6);
  assert.equal(samples.find((s) => s.name === "hub_h_seconds_sum")?.value, 4.5);
});

Deno.test("PrometheusWriter refuses a family written twice and invalid names", () => {
  const w = new PrometheusWriter().gauge("hub_a", "A", []);
  assert.throws(() => w.gauge("hub_a", "A", []), /written twice/);
  assert.throws(() => new PrometheusWriter().gauge("1bad", "B", []), /Invalid metric name/);
});

Deno.test("splitKey reads the labels of a listener metric key", () => {
  assert.deepEqual(splitKey('rejected_total{reason="busy"}'), {
    name: "rejected_total",
    labels: { reason: "busy" },
  });
  assert.deepEqual(splitKey("connections"), { name: "connections", labels: {} });
});
