#include "status/status_page.h"

#include <gtest/gtest.h>

#include <cmath>

#include "test_util/text.h"

namespace ping_exporter::status {
namespace {

using test_util::CountOf;

metrics::TargetEntry Entry(const std::string& name, const std::string& address) {
  metrics::TargetInfo info;
  info.name = name;
  info.address = address;
  return metrics::TargetEntry::Make(std::move(info), nullptr);
}

void Publish(metrics::TargetEntry& e, uint32_t sent, std::vector<double> rtts, double when) {
  metrics::PublishedRound r;
  r.sent = sent;
  r.received = static_cast<uint32_t>(rtts.size());
  r.rtt_avg = rtts.empty() ? 0 : rtts[0];
  r.completed_at = when;
  r.rtts = rtts;
  e.stats->Publish(r);
}

TEST(StatusPageTest, EscapesHtml) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(StatusPageTest, OneRowAndOneGraphPerTarget) {
  metrics::ResultStore store;
  std::vector<metrics::TargetEntry> list = {Entry("alive.test", "127.0.0.1"),
                                            Entry("part", "127.0.0.2"), Entry("dark", "::1"),
                                            Entry("<script>x</script>", "127.0.0.3")};
  store.Replace(std::make_shared<const metrics::ResultStore::TargetList>(list));
  History h(std::chrono::seconds(30));
  h.Observe(store, 900, false);
  Publish(list[0], 2, {0.0015, 0.0015}, 990);
  Publish(list[1], 2, {0.02}, 990);
  Publish(list[2], 2, {}, 990);
  h.Observe(store, 1000, true);
  PageInfo info{"1.2.3", "/metrics", "cfg.toml", "127.0.0.0/8"};
  std::string html = RenderStatusPage(store, info, Problems{}, &h, 1000 + 90);
  EXPECT_EQ(CountOf(html, "<tr class=\"target "), 4u);
  EXPECT_EQ(CountOf(html, "<svg "), 4u);
  EXPECT_EQ(CountOf(html, "<tr class=\"target alive\">"), 1u);
  EXPECT_EQ(CountOf(html, "<tr class=\"target partial\">"), 1u);
  EXPECT_EQ(CountOf(html, "<tr class=\"target no_response\">"), 1u);
  EXPECT_EQ(CountOf(html, "<tr class=\"target pending\">"), 1u);
  // The hostile name shows as text, never as markup.
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;x&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("1.500 ms"), std::string::npos);
  EXPECT_NE(html.find("50%"), std::string::npos);
  // Changed at 990, page rendered at 1090.
  EXPECT_NE(html.find("100s ago"), std::string::npos);
  EXPECT_NE(html.find("1970-01-01 00:16:30 UTC"), std::string::npos);
  EXPECT_NE(html.find("Last 60 min"), std::string::npos);
  EXPECT_NE(html.find("href=\"/metrics\""), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos);  // no external assets
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  // Nothing wrong: the problems section says so, above the targets.
  EXPECT_EQ(CountOf(html, "<p id=\"no-problems\">No problems</p>"), 1u);
  EXPECT_EQ(CountOf(html, "<tr class=\"problem\">"), 0u);
  EXPECT_LT(html.find("id=\"problems\""), html.find("id=\"targets\""));
}

TEST(StatusPageTest, ProblemsAreListedFirstEscapedAndBounded) {
  metrics::ResultStore store;
  store.Replace(std::make_shared<const metrics::ResultStore::TargetList>(
      metrics::ResultStore::TargetList{Entry("a", "127.0.0.1")}));
  const double now = 100000;
  Problems p;
  p.files.push_back({"edge", "/etc/pe/edge.txt:3:1: \"<b>\" is not a host", "<b>", now - 300, 12});
  p.reload = Problems::Reload{now - 30, "pe.toml:2:9: expected a duration"};
  for (int i = 0; i < 25; ++i) {
    p.names.push_back({std::string("n").append(std::to_string(i)).append(".test"),
                       "Domain name not found", now - 7200});
  }
  p.stale.push_back({"198.18.0.1", "198.18.0.1", now - 90});
  std::string html = RenderStatusPage(store, PageInfo{}, p, nullptr, now);
  EXPECT_EQ(html.find("No problems"), std::string::npos);
  EXPECT_LT(html.find("id=\"problems\""), html.find("id=\"targets\""));
  // One row each for the file, the reload and the stale target; names stop at the bound.
  EXPECT_EQ(CountOf(html, "<tr class=\"problem\">"), 3 + kMaxProblemRows);
  EXPECT_NE(html.find("<tr class=\"more\"><td colspan=\"3\">and 5 more</td></tr>"),
            std::string::npos);
  EXPECT_NE(html.find("n19.test"), std::string::npos);
  EXPECT_EQ(html.find("n20.test"), std::string::npos);
  // Text from files and configs is shown, never interpreted.
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("<td>edge</td><td>/etc/pe/edge.txt:3:1: &quot;&lt;b&gt;&quot; is not a "
                      "host<br><code>&lt;b&gt;</code></td><td><span title=\"1970-01-02 03:41:40 "
                      "UTC\">5m ago</span></td><td>12</td>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<td><span title=\"1970-01-02 03:46:10 UTC\">30s ago</span></td>"
                      "<td>pe.toml:2:9: expected a duration</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>Domain name not found</td><td><span title=\"1970-01-02 01:46:40 "
                      "UTC\">2h ago</span></td>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>198.18.0.1</td><td>198.18.0.1</td><td><span title=\"1970-01-02 "
                      "03:45:10 UTC\">90s ago</span></td>"),
            std::string::npos);
}

TEST(StatusPageTest, WorksWithoutHistory) {
  metrics::ResultStore store;
  std::vector<metrics::TargetEntry> list = {Entry("a", "127.0.0.1")};
  store.Replace(std::make_shared<const metrics::ResultStore::TargetList>(list));
  std::string html =
      RenderStatusPage(store, PageInfo{"v", "/metrics", "x", ""}, Problems{}, nullptr, 0);
  EXPECT_EQ(CountOf(html, "<tr class=\"target "), 1u);
  EXPECT_EQ(CountOf(html, "<svg"), 0u);
}

TEST(StatusPageTest, GraphDrawsGapsAndLossBars) {
  SeriesView v;
  const double nan = std::nan("");
  v.rtt_seconds = {0.001, 0.002, nan, nan, 0.004, nan};
  v.loss = {0.0, 0.5, 1.0, nan, 0.0, nan};
  std::string svg = RenderGraph(v, "60 min");
  ASSERT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  // Two RTT segments (a gap between), two loss bars (0.5 and 1.0).
  size_t rtt = svg.find("class=\"rtt\"");
  ASSERT_NE(rtt, std::string::npos);
  std::string d = svg.substr(svg.find("d=\"", rtt));
  d = d.substr(3, d.find('"', 3) - 3);
  EXPECT_EQ(CountOf(d, "M"), 2u);
  EXPECT_EQ(CountOf(d, "L"), 1u);
  size_t loss = svg.find("class=\"loss\"");
  ASSERT_NE(loss, std::string::npos);
  std::string ld = svg.substr(svg.find("d=\"", loss));
  ld = ld.substr(3, ld.find('"', 3) - 3);
  EXPECT_EQ(CountOf(ld, "M"), 2u);
  // Bars stand on the bottom edge, as tall as the loss: half and full height.
  EXPECT_NE(ld.find(" 36v-18.0"), std::string::npos) << ld;
  EXPECT_NE(ld.find(" 36v-36.0"), std::string::npos) << ld;
  // The RTT line spans the graph's height, the highest point at the top margin.
  EXPECT_NE(d.find(" 2.0"), std::string::npos) << d;
  EXPECT_NE(svg.find("RTT max 4.000 ms, loss max 100%"), std::string::npos);
}

TEST(StatusPageTest, GraphWithoutDataHasNoPaths) {
  SeriesView v;
  v.rtt_seconds.assign(History::kPoints, std::nan(""));
  v.loss.assign(History::kPoints, std::nan(""));
  std::string svg = RenderGraph(v, "60 min");
  EXPECT_EQ(svg.find("class=\"rtt\""), std::string::npos);
  EXPECT_EQ(svg.find("class=\"loss\""), std::string::npos);
  EXPECT_NE(svg.find("RTT max -"), std::string::npos);
}

TEST(StatusPageTest, GraphsAreCappedForHugeTargetLists) {
  metrics::ResultStore store;
  std::vector<metrics::TargetEntry> list;
  // Appended, not `"h" + std::to_string(i)`: GCC 12 at -O3 reports a bogus -Wrestrict there.
  for (size_t i = 0; i < kMaxGraphs + 5; ++i) {
    list.push_back(Entry(std::string("h").append(std::to_string(i)), ""));
  }
  store.Replace(std::make_shared<const metrics::ResultStore::TargetList>(list));
  History h(std::chrono::seconds(30));
  h.Observe(store, 1, false);
  std::string html = RenderStatusPage(store, PageInfo{}, Problems{}, &h, 2);
  EXPECT_EQ(CountOf(html, "<tr class=\"target "), kMaxGraphs + 5);
  EXPECT_EQ(CountOf(html, "<svg "), kMaxGraphs);
  EXPECT_NE(html.find("first 1000 targets"), std::string::npos);
}

}  // namespace
}  // namespace ping_exporter::status
