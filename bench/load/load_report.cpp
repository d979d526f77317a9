#include "load_report.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <cstdio>
#include <string>

namespace chathost::bench {

namespace json = boost::json;

namespace {

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::FanOut: return "fanout";
    case Mode::Idle: return "idle";
    case Mode::Seed: return "seed";
  }
  return "?";
}

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

// Rounded so the JSON line stays short and diffable: round_to(x, 0.001)
// keeps three decimals (dividing by 1/step gives the double nearest the
// decimal, multiplying by step does not).
double round_to(double value, double step) {
  const double scale = std::round(1.0 / step);
  return std::round(value * scale) / scale;
}

std::string format(const char* spec, double value) {
  char text[64];
  std::snprintf(text, sizeof text, spec, value);
  return text;
}

// RSS growth per connection, KiB: (RSS now - RSS before connecting) / open connections.
double per_connection_kib(const ProcessFigures& p, std::uint64_t connections) {
  if (connections == 0) return 0;
  return (static_cast<double>(p.rss_kib) - static_cast<double>(p.rss_before_kib)) / static_cast<double>(connections);
}

json::object process_json(const ProcessFigures& p, std::uint64_t connections, bool idle) {
  json::object o{{"name", p.name},
                 {"pid", p.pid},
                 {"alive", p.alive},
                 {"cpu_s", round_to(p.cpu_seconds, 0.001)},
                 {"cpu_percent", round_to(p.cpu_percent, 0.1)},
                 {"rss_kib", p.rss_kib},
                 {"rss_before_kib", p.rss_before_kib},
                 {"peak_rss_kib", p.peak_kib}};
  if (idle) o["rss_per_connection_kib"] = round_to(per_connection_kib(p, connections), 0.01);
  return o;
}

}  // namespace

std::string json_line(const RunResult& r) {
  const auto& o = r.options;
  const auto& c = r.counters;
  const bool idle = o.mode == Mode::Idle;
  json::array urls;
  for (const auto& url : o.urls) urls.emplace_back(url);
  json::array processes;
  for (const auto& p : r.processes) processes.emplace_back(process_json(p, c.open, idle));
  json::object line{
      {"mode", mode_name(o.mode)},
      {"tag", r.tag},
      {"urls", urls},
      {"clients", o.clients},
      {"rooms", o.rooms},
      {"senders", o.senders},
      {"rate", o.rate},
      {"size", o.size},
      {"warmup_s", o.warmup_s},
      {"duration_s", r.window_s},
      {"threads", o.threads},
      {"source_addresses", o.source_addresses.size()},
      {"connected", c.connected},
      {"connect_failures", c.connect_failures},
      {"connect_s", round_to(r.connect_s, 0.001)},
      {"joined", c.joined},
      {"open_at_end", c.open},
      {"sent", c.sent_measured},
      {"sent_per_s", round_to(r.sent_per_s, 0.1)},
      {"expected_deliveries", r.expected_deliveries},
      {"deliveries", c.delivered_measured},
      {"deliveries_per_s", round_to(r.deliveries_per_s, 0.1)},
      {"received_in_window_per_s", round_to(r.received_in_window_per_s, 0.1)},
      {"delivery_ratio", round_to(r.delivery_ratio, 0.000001)},
      {"drained", r.drained},
      {"latency_ms",
       json::object{{"p50", round_to(ms(r.latency.percentile(0.50)), 0.001)},
                    {"p90", round_to(ms(r.latency.percentile(0.90)), 0.001)},
                    {"p99", round_to(ms(r.latency.percentile(0.99)), 0.001)},
                    {"p999", round_to(ms(r.latency.percentile(0.999)), 0.001)},
                    {"max", round_to(ms(r.latency.max()), 0.001)},
                    {"mean", round_to(r.latency.mean() / 1e6, 0.001)},
                    {"samples", r.latency.count()},
                    {"p99_with_missing", round_to(ms(r.latency_with_missing.percentile(0.99)), 0.001)}}},
      {"errors", r.errors()},
      {"server_closes", c.server_closes},
      {"io_errors", c.io_errors},
      {"error_frames", c.error_frames},
      {"send_backlog_drops", c.send_backlog_drops},
      {"other_frames", c.other_frames},
      {"foreign_messages", c.foreign_messages},
      {"first_error", c.first_error},
      {"processes", processes},
      {"generator", process_json(r.generator, c.open, idle)},
  };
  if (!r.intervals.empty()) {
    json::array intervals;
    for (const auto& i : r.intervals) {
      json::object rss;
      for (const auto& [name, kib] : i.rss_kib) rss[name] = kib;
      intervals.emplace_back(json::object{{"end_s", round_to(i.end_s, 0.001)},
                                          {"deliveries_per_s", round_to(i.deliveries_per_s, 0.1)},
                                          {"p50_ms", round_to(ms(i.latency.percentile(0.50)), 0.001)},
                                          {"p99_ms", round_to(ms(i.latency.percentile(0.99)), 0.001)},
                                          {"max_ms", round_to(ms(i.latency.max()), 0.001)},
                                          {"errors", i.errors},
                                          {"rss_kib", rss}});
    }
    line["intervals"] = intervals;
  }
  if (o.mode == Mode::Seed) {
    line["seed_room"] = o.seed_room;
    line["seeded"] = c.delivered_seed;
  }
  return json::serialize(line);
}

void print_table(std::ostream& out, const RunResult& r) {
  const auto& o = r.options;
  const auto& c = r.counters;
  auto row = [&out](const std::string& name, const std::string& value) {
    char text[160];
    std::snprintf(text, sizeof text, "  %-26s %s\n", name.c_str(), value.c_str());
    out << text;
  };
  auto count = [](std::uint64_t v) { return std::to_string(v); };

  out << "chat-load " << mode_name(o.mode) << " (run " << r.tag << ")\n";
  std::string urls;
  for (const auto& url : o.urls) urls += (urls.empty() ? "" : " ") + url;
  row("targets", urls);
  row("connections", count(c.connected) + " of " + count(o.clients) + " in " + format("%.2f s", r.connect_s) +
                         (c.connect_failures ? ", " + count(c.connect_failures) + " failed" : ""));
  if (o.mode == Mode::FanOut) {
    row("rooms / senders", count(o.rooms) + " / " + count(o.senders) + ", " + count(o.size) + "-byte messages");
    row("rate asked", format("%.1f msg/s", o.rate) + ", warm-up " + format("%.1f s", o.warmup_s) + ", measured " +
                          format("%.1f s", r.window_s));
    row("sent", count(c.sent_measured) + format(" (%.1f/s)", r.sent_per_s));
    row("deliveries", count(c.delivered_measured) + " of " + count(r.expected_deliveries) + " expected" +
                          (r.drained ? "" : " (drain timed out)"));
    row("deliveries/s", format("%.1f", r.deliveries_per_s) + format(" (received inside the window: %.1f/s)",
                                                                    r.received_in_window_per_s));
    row("delivery ratio", format("%.6f", r.delivery_ratio));
    row("latency p50/p90/p99 ms", format("%.3f", ms(r.latency.percentile(0.5))) + " / " +
                                      format("%.3f", ms(r.latency.percentile(0.9))) + " / " +
                                      format("%.3f", ms(r.latency.percentile(0.99))));
    row("latency p99.9/max ms",
        format("%.3f", ms(r.latency.percentile(0.999))) + " / " + format("%.3f", ms(r.latency.max())));
  } else if (o.mode == Mode::Idle) {
    row("held", count(c.open) + " open after " + format("%.1f s", r.window_s) + ", pinged every " +
                    format("%.1f s", o.ping_interval_s));
  } else {
    row("seeded", count(c.delivered_seed) + " of " + count(o.seed_count) + " into " + o.seed_room + " in " +
                      format("%.2f s", r.window_s));
  }
  row("errors", count(r.errors()) + " (server closes " + count(c.server_closes) + ", i/o " + count(c.io_errors) +
                    ", error frames " + count(c.error_frames) + ", backlog drops " + count(c.send_backlog_drops) +
                    ")");
  if (!c.first_error.empty()) row("first error", c.first_error.substr(0, 200));
  row("ignored frames", count(c.other_frames) + " other kinds, " + count(c.foreign_messages) + " other runs'");
  auto process_row = [&](const ProcessFigures& p) {
    std::string text = format("cpu %.2f s", p.cpu_seconds) + format(" (%.0f%%)", p.cpu_percent) +
                       ", rss " + count(p.rss_kib) + " KiB";
    if (o.mode == Mode::Idle) {
      text += format(" (%.2f KiB per connection", per_connection_kib(p, c.open)) + ", " +
              count(p.rss_before_kib) + " KiB before)";
    }
    if (!p.alive) text += " [process gone]";
    row(p.name + " (" + std::to_string(p.pid) + ")", text);
  };
  for (const auto& p : r.processes) process_row(p);
  process_row(r.generator);
}

}  // namespace chathost::bench
