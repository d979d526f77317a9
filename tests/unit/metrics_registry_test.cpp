#include "metrics_registry.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace chathost {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(MetricsRegistry, RendersCountersWithHelpTypeAndLabels) {
  MetricsRegistry metrics;
  auto& ok = metrics.counter("chat_http_requests_total", "HTTP requests", {{"route", "/history"}, {"status", "200"}});
  auto& bad = metrics.counter("chat_http_requests_total", "HTTP requests", {{"route", "/history"}, {"status", "400"}});
  ok.inc();
  ok.inc(2);
  bad.inc();
  const auto text = metrics.render_prometheus();
  EXPECT_TRUE(contains(text, "# HELP chat_http_requests_total HTTP requests\n# TYPE chat_http_requests_total counter\n"));
  EXPECT_TRUE(contains(text, "chat_http_requests_total{route=\"/history\",status=\"200\"} 3\n"));
  EXPECT_TRUE(contains(text, "chat_http_requests_total{route=\"/history\",status=\"400\"} 1\n"));
  // One HELP/TYPE per name, whatever the labels.
  EXPECT_EQ(text.find("# TYPE chat_http_requests_total"), text.rfind("# TYPE chat_http_requests_total"));
}

TEST(MetricsRegistry, SameNameAndLabelsGiveTheSameObject) {
  MetricsRegistry metrics;
  auto& a = metrics.counter("chat_x_total", "x", {{"k", "v"}});
  auto& b = metrics.counter("chat_x_total", "x", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &metrics.counter("chat_x_total", "x", {{"k", "w"}}));
}

TEST(MetricsRegistry, GaugesSetAndAdd) {
  MetricsRegistry metrics;
  auto& gauge = metrics.gauge("chat_ws_connections", "open WebSocket connections");
  gauge.set(5);
  gauge.add(-2);
  EXPECT_TRUE(contains(metrics.render_prometheus(), "# TYPE chat_ws_connections gauge\nchat_ws_connections 3\n"));
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry metrics;
  auto& latency = metrics.histogram("chat_store_commit_seconds", "commit time", {0.001, 0.01, 0.1});
  latency.observe(0.0005);
  latency.observe(0.005);
  latency.observe(0.005);
  latency.observe(0.5);
  const auto text = metrics.render_prometheus();
  EXPECT_TRUE(contains(text, "chat_store_commit_seconds_bucket{le=\"0.001\"} 1\n"));
  EXPECT_TRUE(contains(text, "chat_store_commit_seconds_bucket{le=\"0.01\"} 3\n"));
  EXPECT_TRUE(contains(text, "chat_store_commit_seconds_bucket{le=\"0.1\"} 3\n"));
  EXPECT_TRUE(contains(text, "chat_store_commit_seconds_bucket{le=\"+Inf\"} 4\n"));
  EXPECT_TRUE(contains(text, "chat_store_commit_seconds_count 4\n"));
  EXPECT_TRUE(contains(text, "chat_store_commit_seconds_sum 0.5105\n"));
}

TEST(MetricsRegistry, LabelValuesAreEscaped) {
  MetricsRegistry metrics;
  metrics.counter("chat_odd_total", "odd", {{"path", "a\"b\\c\nd"}}).inc();
  EXPECT_TRUE(contains(metrics.render_prometheus(), "chat_odd_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(MetricsRegistry, RefusesBadNamesAndKindClashes) {
  MetricsRegistry metrics;
  EXPECT_THROW(metrics.counter("bad name", "x"), std::invalid_argument);
  EXPECT_THROW(metrics.counter("9lives", "x"), std::invalid_argument);
  metrics.counter("chat_thing", "x");
  EXPECT_THROW(metrics.gauge("chat_thing", "x"), std::invalid_argument);
  EXPECT_THROW(metrics.histogram("chat_h", "x", {1.0, 0.5}), std::invalid_argument);
}

TEST(MetricsRegistry, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry metrics;
  auto& counter = metrics.counter("chat_n_total", "n");
  auto& gauge = metrics.gauge("chat_g", "g");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        counter.inc();
        gauge.add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto text = metrics.render_prometheus();
  EXPECT_TRUE(contains(text, "chat_n_total 40000\n"));
  EXPECT_TRUE(contains(text, "chat_g 40000\n"));
}

}  // namespace
}  // namespace chathost
