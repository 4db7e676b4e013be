#include "config/config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.h"
#include "config/schema.h"

namespace ping_exporter::config {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kTestdata = PE_TESTDATA_DIR "/config/testdata";
const std::string kExampleConfig = PE_TESTDATA_DIR "/../../config/ping_exporter.toml";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One invalid configuration: testdata/invalid-<name>.toml, the message it must produce
// (a substring) and where it must point (0:0 = no position, the whole file is at fault).
struct InvalidCase {
  const char* name;
  const char* message;
  uint32_t line;
  uint32_t column;
};

const InvalidCase kInvalidCases[] = {
    {"syntax", "invalid TOML: ", 3, 9},
    {"unknown-top-key", "unknown key \"worker\" at top level (did you mean \"workers\"?)", 1, 1},
    {"unknown-top-option", "unknown key \"interval\" at top level (probe options go in [defaults]",
     2, 1},
    {"unknown-top-group-key",
     "unknown key \"hosts\" at top level (this key belongs in a [[targets]]", 1, 1},
    {"unknown-defaults-key", "defaults: unknown key \"timout\" (did you mean \"timeout\"?)", 3, 1},
    {"defaults-group-only-key",
     "defaults: unknown key \"family\" (\"family\" can only be set per [[targets]] group or "
     "[[target_files]] table)",
     2, 1},
    {"unknown-target-key", "targets[0]: unknown key \"hostz\" (did you mean \"hosts\"?)", 3, 1},
    {"unknown-key-no-suggestion", "targets[0]: unknown key \"colour\" (known keys: name hosts", 3,
     1},
    {"targets-top-level-key",
     "targets[0]: unknown key \"workers\" (\"workers\" is a top-level key)", 3, 3},
    {"wrong-type-count", "defaults.count: expected an integer, got string", 2, 9},
    {"wrong-type-duration",
     "defaults.interval: expected a duration string such as \"1s\" or \"250ms\", got integer", 2,
     12},
    {"wrong-type-dont-fragment",
     "targets[0].dont_fragment: expected a boolean (true or false), got string", 3, 17},
    {"wrong-type-defaults", "defaults: expected a table ([defaults]), got integer", 1, 12},
    {"wrong-type-targets", "targets: expected an array of tables ([[targets]]), got table", 1, 1},
    {"wrong-type-hosts", "targets[0].hosts: expected an array of strings", 2, 9},
    {"wrong-type-host-element",
     "targets[0].hosts[1]: expected a string (an IP address or host name), got integer", 2, 23},
    {"wrong-type-name", "targets[0].name: expected a string, got integer", 2, 8},
    {"wrong-type-source-address", "targets[0].source_address: expected a string, got integer", 3,
     18},
    {"targets-element-not-table", "targets[0]: expected a table ([[targets]]), got string", 1, 12},
    {"bad-duration",
     "defaults.timeout: \"abc\" is not a duration (expected e.g. \"500ms\", \"1s\")", 7, 11},
    {"zero-duration", "defaults.interval: \"0s\" must be greater than zero", 2, 12},
    {"negative-duration", "targets[0].spacing: \"-100ms\" must be greater than zero", 3, 11},
    {"timeout-ge-interval", "defaults: timeout 1s must be less than interval 1s", 3, 11},
    {"timeout-ge-interval-inherited",
     "targets[0]: timeout 800ms (from [defaults]) must be less than interval 500ms", 6, 12},
    {"round-too-long",
     "targets[0]: a round lasts (count-1)*spacing+timeout = (5-1)*200ms+500ms = 1.3s, which must "
     "be less than interval 1s (built-in default)",
     4, 11},
    {"round-too-long-count", "(3-1)*250ms+500ms = 1s, which must be less than interval 1s", 5, 9},
    {"round-overflow", "= more than 292 years, which must be less than interval", 4, 11},
    {"count-zero", "defaults.count: 0 is out of range (expected 1..64)", 2, 9},
    {"count-too-large", "targets[0].count: 65 is out of range (expected 1..64)", 3, 9},
    {"payload-too-small", "defaults.payload_size: 31 is below the minimum of 32 bytes", 2, 16},
    {"payload-too-large", "defaults.payload_size: 65001 is above the maximum of 65000 bytes", 2,
     16},
    {"ttl-zero", "defaults.ttl: 0 is out of range (expected 1..255)", 2, 7},
    {"ttl-too-large", "targets[0].ttl: 256 is out of range (expected 1..255)", 3, 7},
    {"tos-negative", "defaults.tos: -1 is out of range (expected 0..255)", 2, 7},
    {"tos-too-large", "defaults.tos: 256 is out of range (expected 0..255)", 2, 7},
    {"hosts-empty", "targets[0].hosts: must list at least one host", 2, 9},
    {"host-empty-string", "targets[0].hosts[1]: host must not be empty", 2, 23},
    {"hosts-missing", "targets[1]: missing required key \"hosts\"", 5, 1},
    {"no-targets",
     "no [[targets]] defined (at least one group of hosts is required, inline or as "
     "[[target_files]])",
     0, 0},
    {"targets-empty-array", "targets: no [[targets]] defined", 2, 11},
    {"duplicate-host-within-group",
     "targets[0].hosts[2]: duplicate host \"127.0.0.1\" (already listed at 2:10 as "
     "targets[0].hosts[0])",
     2, 30},
    {"duplicate-host-across-groups",
     "targets[1].hosts[0]: duplicate host \"::1\" (already listed at 3:23 as targets[0].hosts[1])",
     7, 10},
    {"duplicate-host-canonical",
     "duplicate host \"0:0:0:0:0:0:0:1\" (already listed at 2:10 as targets[0].hosts[0])", 2, 17},
    {"duplicate-host-name-case",
     "duplicate host \"LocalHost.\" (already listed at 2:10 as targets[0].hosts[0])", 2, 23},
    {"bad-family",
     "targets[0].family: \"ipv4\" is not a family (expected \"ip4\", \"ip6\" or \"any\")", 3, 10},
    {"ip6-literal-with-ip4",
     "targets[0].hosts[1]: \"::1\" is an IPv6 address but the group's family is \"ip4\"", 3, 23},
    {"ip4-literal-with-ip6",
     "targets[0].hosts[1]: \"127.0.0.1\" is an IPv4 address but the group's family is \"ip6\"", 2,
     23},
    {"host-not-a-name", "targets[0].hosts[1]: \"local host\" is not an IP address or host name", 2,
     23},
    // Bytes that would end up in /metrics, logs and the status page: refused at the edge.
    {"host-nul",
     "targets[0].hosts[0]: \"127.0.0.13\\x00\xC3\xBF\" is not an IP address or host name (NUL "
     "byte at offset 10)",
     2, 10},
    {"host-control-character",
     "targets[0].hosts[1]: \"a\\x01b\" is not an IP address or host name (control character "
     "\\x01 at offset 1)",
     2, 23},
    {"label-value-nul",
     "targets[0].labels.site: \"lab\\x00x\" must be printable UTF-8 text (NUL byte at offset 3)", 3,
     19},
    {"label-value-newline",
     "targets[0].labels.site: \"first line\\x0asecond line\" must be printable UTF-8 text "
     "(control character \\x0a at offset 10)",
     4, 8},
    {"label-value-c1-control",
     "targets[0].labels.rack: \"r\\xc2\\x85\" must be printable UTF-8 text (control character "
     "\\xc2\\x85 at offset 1)",
     3, 19},
    {"label-value-invalid-utf8", "invalid TOML: Encountered invalid utf-8 sequence", 3, 22},
    {"group-name-control-character",
     "targets[0].name: \"g\\x1b[31m\" must be printable UTF-8 text (control character \\x1b at "
     "offset 1)",
     2, 8},
    {"target-file-label-value-tab",
     "target_files[0].labels.site: \"a\\x09b\" must be printable UTF-8 text (control character "
     "\\x09 at offset 1)",
     3, 19},
    {"host-numeric-shorthand", "targets[0].hosts[0]: \"127.1\" is not an IP address or host name",
     2, 10},
    {"label-bad-grammar",
     "targets[0].labels: \"1rack\" is not a valid label name (expected [a-zA-Z_][a-zA-Z0-9_]*)", 3,
     26},
    {"label-bad-char", "targets[0].labels: \"site-name\" is not a valid label name", 4, 1},
    {"label-double-underscore",
     "targets[0].labels: label name \"__meta\" is reserved (names starting with \"__\"", 3, 12},
    {"label-reserved-target", "label name \"target\" is reserved", 3, 24},
    {"label-reserved-address", "label name \"address\" is reserved", 3, 24},
    {"label-reserved-group", "label name \"group\" is reserved", 3, 24},
    {"label-reserved-source", "label name \"source\" is reserved", 3, 24},
    {"group-label-not-bool", "group_label: expected a boolean (true or false)", 1, 15},
    {"label-reserved-status", "label name \"status\" is reserved", 3, 24},
    {"label-reserved-stat", "label name \"stat\" is reserved", 3, 24},
    {"label-reserved-reason", "label name \"reason\" is reserved", 3, 24},
    {"label-reserved-job", "label name \"job\" is reserved", 3, 24},
    {"label-reserved-instance", "label name \"instance\" is reserved", 3, 24},
    {"label-value-not-string", "targets[0].labels.rack: expected a string label value, got integer",
     3, 19},
    {"labels-not-table",
     "targets[0].labels: expected a table such as { site = \"lab\" }, got array", 3, 10},
    {"workers-too-large", "workers: 1025 is out of range (expected 0..1024", 1, 11},
    {"workers-negative", "workers: -1 is out of range (expected 0..1024", 1, 11},
    {"workers-wrong-type", "workers: expected an integer, got string", 1, 11},
    {"rtt-buckets-not-increasing",
     "rtt_buckets[2]: 0.002 is not greater than the previous bucket 0.005 (buckets must be "
     "strictly increasing)",
     1, 30},
    {"rtt-buckets-equal", "rtt_buckets[1]: 0.001 is not greater than the previous bucket 0.001", 1,
     23},
    {"rtt-buckets-zero", "rtt_buckets[0]: 0 must be greater than zero", 1, 16},
    {"rtt-buckets-negative", "rtt_buckets[0]: -0.5 must be greater than zero", 1, 16},
    {"rtt-buckets-empty", "rtt_buckets: must not be empty", 1, 15},
    {"rtt-buckets-not-number", "rtt_buckets[1]: expected a number of seconds, got string", 1, 21},
    {"rtt-buckets-inf", "rtt_buckets[1]: must be a finite number", 1, 21},
    {"rtt-buckets-wrong-type",
     "rtt_buckets: expected an array of numbers (seconds), got floating-point number", 1, 15},
    {"rtt-buckets-too-many", "rtt_buckets: 1001 bounds, more than the 1000 a histogram may have", 1,
     15},
    {"group-rtt-buckets-not-increasing",
     "targets[0].rtt_buckets[1]: 0.005 is not greater than the previous bucket 0.01", 3, 22},
    {"rtt-histogram-bad-word",
     "targets[0].rtt_histogram: \"sparse\" is not one of \"native\", \"classic\" or \"both\"", 3,
     17},
    {"rtt-histogram-wrong-type",
     "defaults.rtt_histogram: expected a string (\"native\", \"classic\" or \"both\"), got integer",
     2, 17},
    {"rtt-bucket-factor-one",
     "defaults.rtt_bucket_factor: 1 is out of range (expected more than 1 and at most 65536", 2,
     21},
    {"metrics-bad-word",
     "defaults.metrics: \"all\" is not one of \"minimal\", \"default\" or \"full\"", 2, 11},
    {"source-address-not-ip", "defaults.source_address: \"eth0\" is not an IP address", 2, 18},
    {"duplicate-group-name",
     "targets[1].name: duplicate group name \"lab\" (already used by targets[0] at 2:8)", 6, 8},
    {"duplicate-group-name-default",
     "targets[1].name: duplicate group name \"group-1\" (already used by targets[0] at 1:1)", 5, 8},
    {"group-name-empty", "targets[0].name: must not be empty", 2, 8},
    // Name resolution and socket options.
    {"resolve-interval-zero", "defaults.resolve_interval: \"0s\" must be greater than zero", 2, 20},
    {"resolve-timeout-bad", "targets[0].resolve_timeout: \"soon\" is not a duration", 3, 19},
    {"resolve-timeout-ge-interval",
     "defaults: resolve_timeout 2s must be less than resolve_interval 1s", 3, 19},
    {"resolve-timeout-ge-interval-inherited",
     "targets[0]: resolve_timeout 2s (built-in default) must be less than resolve_interval 2s", 3,
     20},
    {"interface-too-long",
     "defaults.interface: \"abcdefghijklmnop\" is 16 characters long (an interface name has at "
     "most 15)",
     2, 13},
    {"interface-bad-char",
     "targets[0].interface: \"eth 0\" is not an interface name (expected letters, digits", 3, 13},
    {"interface-dot-dot", "targets[0].interface: \"..\" is not an interface name", 3, 13},
    {"wrong-type-interface",
     "defaults.interface: expected a string (an interface name such as \"eth0\"), got integer", 2,
     13},
    {"fwmark-negative", "defaults.fwmark: -1 is out of range (expected 0..4294967295)", 2, 10},
    {"fwmark-too-large", "targets[0].fwmark: 4294967296 is out of range (expected 0..4294967295)",
     3, 10},
    {"wrong-type-fwmark", "targets[0].fwmark: expected an integer, got string", 3, 10},
    {"wrong-type-all-addresses",
     "targets[0].all_addresses: expected a boolean (true or false), got string", 3, 17},
    {"wrong-type-exclude-local",
     "targets[0].exclude_local: expected a boolean (true or false), got string", 3, 17},
    {"defaults-exclude-local",
     "defaults: unknown key \"exclude_local\" (\"exclude_local\" can only be set per [[targets]] "
     "group or [[target_files]] table)",
     2, 1},
    {"defaults-all-addresses",
     "defaults: unknown key \"all_addresses\" (\"all_addresses\" can only be set per [[targets]] "
     "group or [[target_files]] table)",
     2, 1},
    // [[target_files]].
    {"defaults-file-only-key",
     "defaults: unknown key \"path\" (\"path\" can only be set per [[target_files]] table)", 2, 1},
    {"top-level-file-only-key",
     "unknown key \"format\" at top level (this key belongs in a [[target_files]] table)", 1, 1},
    {"group-file-only-key",
     "targets[0]: unknown key \"path\" (\"path\" belongs in a [[target_files]] table)", 3, 1},
    {"target-files-wrong-type",
     "target_files: expected an array of tables ([[target_files]]), got string", 1, 16},
    {"target-files-element-not-table",
     "target_files[0]: expected a table ([[target_files]]), got string", 1, 17},
    {"target-files-empty-array",
     "target_files: no [[target_files]] listed and no [[targets]] defined (at least one group", 1,
     16},
    {"target-file-path-missing",
     "target_files[0]: missing required key \"path\" (e.g. path = \"targets.txt\")", 4, 1},
    {"target-file-path-empty", "target_files[0].path: must not be empty", 2, 8},
    {"target-file-path-wrong-type",
     "target_files[0].path: expected a string (a file path), got array", 2, 8},
    {"target-file-path-nul",
     "target_files[0].path: \"a\\x00b.txt\" must be printable UTF-8 text (NUL byte at offset 1)", 2,
     8},
    {"target-file-bad-format",
     "target_files[0].format: \"csv\" is not a target file format (expected \"lines\" or "
     "\"file_sd\")",
     3, 10},
    {"target-file-wrong-type-format",
     "target_files[0].format: expected a string (\"lines\" or \"file_sd\"), got integer", 3, 10},
    {"target-file-duplicate-path",
     "/config/testdata/hosts.txt\" (already read by target_files[0] at 2:8)", 5, 8},
    {"target-file-unknown-key", "target_files[0]: unknown key \"pth\" (did you mean \"path\"?)", 2,
     1},
    {"target-file-hosts-key",
     "target_files[0]: unknown key \"hosts\" (hosts are read from the file; list hosts inline in "
     "a [[targets]] group)",
     3, 1},
    {"target-file-workers-key",
     "target_files[0]: unknown key \"workers\" (\"workers\" is a top-level key)", 3, 1},
    {"target-file-name-duplicates-group",
     "target_files[0].name: duplicate group name \"lab\" (already used by targets[0] at 2:8)", 6,
     8},
    {"target-file-name-empty", "target_files[0].name: must not be empty", 2, 8},
    {"target-file-label-reserved", "target_files[0].labels: label name \"job\" is reserved", 3, 12},
    {"target-file-timeout-ge-interval",
     "target_files[0]: timeout 800ms (from [defaults]) must be less than interval 800ms", 6, 12},
    {"target-file-bad-family",
     "target_files[0].family: \"inet\" is not a family (expected \"ip4\", \"ip6\" or \"any\")", 3,
     10},
    {"target-file-wrong-type-all-addresses",
     "target_files[0].all_addresses: expected a boolean (true or false), got integer", 3, 17},
};

TEST(ConfigTest, EveryInvalidFileIsRejectedWithMessageAndPosition) {
  for (const InvalidCase& c : kInvalidCases) {
    std::string path = kTestdata + "/invalid-" + c.name + ".toml";
    SCOPED_TRACE(path);
    ParseResult r = LoadFile(path);
    ASSERT_FALSE(r.has_value());
    const Error& e = r.error();
    EXPECT_EQ(e.file, path);
    EXPECT_NE(e.message.find(c.message), std::string::npos)
        << "message: " << e.message << "\nwanted:  " << c.message;
    EXPECT_EQ(e.position.line, c.line) << e.ToString();
    EXPECT_EQ(e.position.column, c.column) << e.ToString();
  }
}

TEST(ConfigTest, EveryInvalidTestdataFileHasACase) {
  std::set<std::string> listed;
  for (const InvalidCase& c : kInvalidCases) {
    EXPECT_TRUE(listed.insert(std::string("invalid-") + c.name + ".toml").second)
        << "listed twice: " << c.name;
  }
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(kTestdata)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("invalid-", 0) == 0) on_disk.insert(name);
  }
  EXPECT_EQ(on_disk, listed);
}

TEST(ConfigTest, ErrorToStringPutsPositionFirst) {
  ParseResult r = LoadFile(kTestdata + "/invalid-bad-duration.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().ToString(),
            kTestdata +
                "/invalid-bad-duration.toml:7:11: defaults.timeout: \"abc\" is not a "
                "duration (expected e.g. \"500ms\", \"1s\")");

  EXPECT_EQ((Error{"a.toml", {3, 4}, "bad"}).ToString(), "a.toml:3:4: bad");
  EXPECT_EQ((Error{"a.toml", {3, 0}, "bad"}).ToString(), "a.toml:3: bad");
  EXPECT_EQ((Error{"a.toml", {0, 0}, "bad"}).ToString(), "a.toml: bad");
}

TEST(ConfigTest, ParseUsesSourceNameInErrors) {
  ParseResult r = Parse("workers = 5000\n[[targets]]\nhosts = [\"::1\"]\n", "inline.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().file, "inline.toml");
  EXPECT_EQ(r.error().ToString().rfind("inline.toml:1:11: workers: 5000 is out of range", 0), 0u)
      << r.error().ToString();
}

TEST(ConfigTest, ValidFullConfigSetsEveryField) {
  std::string path = kTestdata + "/valid-full.toml";
  ParseResult r = LoadFile(path);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  const Config& c = *r;
  EXPECT_EQ(c.source_name, path);
  EXPECT_EQ(c.workers, 3u);
  EXPECT_FALSE(c.group_label);

  ProbeOptions d;
  d.rtt_buckets = {0.0005, 0.001, 0.01, 1.0};  // the top-level key: [defaults]' buckets
  d.interval = seconds(2);
  d.timeout = milliseconds(750);
  d.spacing = milliseconds(50);
  d.count = 4;
  d.payload_size = 100;
  d.ttl = 32;
  d.tos = 16;
  d.dont_fragment = true;
  d.source_address = "127.0.0.1";
  d.resolve_interval = std::chrono::minutes(10);
  d.resolve_timeout = seconds(3);
  d.interface = "lo";
  d.fwmark = 42;
  d.rtt_histogram = metrics::RttHistogram::kNative;
  d.rtt_bucket_factor = 1.2;
  d.metrics = metrics::Profile::kFull;
  EXPECT_EQ(c.defaults, d);

  ASSERT_EQ(c.groups.size(), 2u);
  const TargetGroup& g0 = c.groups[0];
  EXPECT_EQ(g0.name, "v4");
  EXPECT_EQ(g0.hosts, (std::vector<std::string>{"127.0.0.1", "localhost"}));
  ASSERT_EQ(g0.host_positions.size(), 2u);
  EXPECT_EQ(g0.host_positions[0].line, 25u);
  EXPECT_EQ(g0.host_positions[0].column, 10u);
  EXPECT_EQ(g0.host_positions[1].line, 25u);
  EXPECT_EQ(g0.host_positions[1].column, 23u);
  EXPECT_EQ(g0.family, Family::kIp4);
  EXPECT_TRUE(g0.all_addresses);
  EXPECT_EQ(g0.options, d);                                         // inherits all of [defaults]
  EXPECT_EQ(g0.labels, (Labels{{"rack", "r1"}, {"site", "lab"}}));  // sorted by name
  EXPECT_EQ(g0.position.line, 23u);
  EXPECT_EQ(g0.position.column, 1u);

  const TargetGroup& g1 = c.groups[1];
  EXPECT_EQ(g1.name, "group-2");
  EXPECT_EQ(g1.hosts, (std::vector<std::string>{"::1"}));
  ASSERT_EQ(g1.host_positions.size(), 1u);
  EXPECT_EQ(g1.host_positions[0].line, 31u);
  EXPECT_EQ(g1.family, Family::kIp6);
  EXPECT_FALSE(g1.all_addresses);
  ProbeOptions o;
  o.interval = seconds(5);
  o.timeout = seconds(1);
  o.spacing = milliseconds(200);
  o.count = 8;
  o.payload_size = 1400;
  o.ttl = 1;
  o.tos = 0;
  o.dont_fragment = false;
  o.source_address = "::1";
  o.resolve_interval = std::chrono::minutes(1);
  o.resolve_timeout = milliseconds(500);
  o.interface = "";                   // overrides "lo" back to "any interface"
  o.fwmark = 0;                       // set, so the mark is cleared rather than left alone
  o.rtt_histogram = d.rtt_histogram;  // inherited
  o.rtt_buckets = d.rtt_buckets;
  o.rtt_bucket_factor = d.rtt_bucket_factor;
  o.metrics = d.metrics;
  EXPECT_EQ(g1.options, o);
  EXPECT_EQ(g1.labels, (Labels{{"zone", "b"}}));
  EXPECT_EQ(g1.position.line, 30u);

  ASSERT_EQ(c.target_files.size(), 2u);
  const TargetFile& f0 = c.target_files[0];
  EXPECT_EQ(f0.name, "from-file");
  EXPECT_EQ(f0.path, kTestdata + "/lists/hosts.txt");  // relative to the config's directory
  EXPECT_EQ(f0.format, TargetFileFormat::kFileSd);     // set explicitly despite ".txt"
  EXPECT_EQ(f0.family, Family::kIp4);
  EXPECT_TRUE(f0.all_addresses);
  EXPECT_EQ(f0.labels, (Labels{{"origin", "file"}}));
  ProbeOptions fo = d;
  fo.interval = seconds(3);
  fo.count = 1;
  fo.fwmark = 4294967295u;
  fo.interface = "a.b-c_d0123456";
  EXPECT_EQ(f0.options, fo);
  EXPECT_EQ(f0.position.line, 48u);

  const TargetFile& f1 = c.target_files[1];
  EXPECT_EQ(f1.name, "file-2");
  EXPECT_EQ(f1.path, "/srv/targets.JSON");          // lexically normalised
  EXPECT_EQ(f1.format, TargetFileFormat::kFileSd);  // by extension, case-insensitively
  EXPECT_EQ(f1.family, Family::kAny);
  EXPECT_FALSE(f1.all_addresses);
  EXPECT_TRUE(f1.labels.empty());
  EXPECT_EQ(f1.options, d);
}

TEST(ConfigTest, ExcludeLocalIsSetPerGroupAndTargetFile) {
  ParseResult r = Parse(R"(
[[targets]]
name = "mesh"
hosts = ["peers.example"]
all_addresses = true
exclude_local = true

[[targets]]
hosts = ["127.0.0.1"]

[[target_files]]
path = "/srv/peers.txt"
exclude_local = true
)",
                        "t.toml");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->groups[0].exclude_local);
  EXPECT_FALSE(r->groups[1].exclude_local);  // off by default
  EXPECT_TRUE(r->target_files[0].exclude_local);
}

TEST(ConfigTest, SeriesKeysInheritAndOverridePerGroup) {
  ParseResult r = Parse(R"(
rtt_buckets = [0.001, 0.01]
[defaults]
rtt_histogram = "native"
[[targets]]
hosts = ["127.0.0.1"]
[[targets]]
hosts = ["::1"]
rtt_histogram = "classic"
rtt_buckets = [0.005]
rtt_bucket_factor = 2
metrics = "minimal"
)",
                        "t.toml");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  const ProbeOptions& a = r->groups[0].options;
  EXPECT_EQ(a.rtt_histogram, metrics::RttHistogram::kNative);
  EXPECT_EQ(a.rtt_buckets, (std::vector<double>{0.001, 0.01}));  // top level: [defaults]' value
  EXPECT_EQ(a.rtt_bucket_factor, metrics::kDefaultNativeBucketFactor);
  EXPECT_EQ(a.metrics, metrics::Profile::kDefault);
  const ProbeOptions& b = r->groups[1].options;
  EXPECT_EQ(b.rtt_histogram, metrics::RttHistogram::kClassic);
  EXPECT_EQ(b.rtt_buckets, (std::vector<double>{0.005}));
  EXPECT_EQ(b.rtt_bucket_factor, 2);
  EXPECT_EQ(b.metrics, metrics::Profile::kMinimal);
  EXPECT_EQ(ProbeOptions{}.rtt_histogram, metrics::RttHistogram::kBoth);
}

TEST(ConfigTest, GroupsInheritDefaultsThenOverride) {
  ParseResult r = Parse(R"(
[defaults]
interval = "3s"
count = 3
ttl = 20
source_address = "127.0.0.1"

[[targets]]
hosts = ["127.0.0.1"]

[[targets]]
hosts = ["localhost"]
count = 1
timeout = "2s"
source_address = ""
)",
                        "inherit.toml");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ProbeOptions builtin;
  ProbeOptions d = builtin;
  d.interval = seconds(3);
  d.count = 3;
  d.ttl = 20;
  d.source_address = "127.0.0.1";
  EXPECT_EQ(r->defaults, d);
  ASSERT_EQ(r->groups.size(), 2u);
  EXPECT_EQ(r->groups[0].name, "group-1");
  EXPECT_EQ(r->groups[0].options, d);
  EXPECT_EQ(r->groups[0].family, Family::kAny);
  EXPECT_TRUE(r->groups[0].labels.empty());

  ProbeOptions g = d;
  g.count = 1;
  g.timeout = seconds(2);
  g.source_address = "";  // an empty string overrides back to "kernel chooses"
  EXPECT_EQ(r->groups[1].name, "group-2");
  EXPECT_EQ(r->groups[1].options, g);
  EXPECT_EQ(r->workers, 0u);
  EXPECT_EQ(r->defaults.rtt_buckets, DefaultRttBuckets());
  EXPECT_TRUE(r->target_files.empty());
}

TEST(ConfigTest, NewProbeOptionDefaults) {
  ProbeOptions o;
  EXPECT_EQ(o.resolve_interval, std::chrono::minutes(5));
  EXPECT_EQ(o.resolve_timeout, seconds(2));
  EXPECT_EQ(o.interface, "");
  EXPECT_FALSE(o.fwmark.has_value());
  ParseResult r = Parse("[[targets]]\nhosts = [\"localhost\"]\n", "d.toml");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->groups[0].options, o);
  EXPECT_FALSE(r->groups[0].all_addresses);
}

TEST(ConfigTest, SocketOptionBoundsAreAccepted) {
  ParseResult r = Parse(R"([[targets]]
hosts = ["127.0.0.1"]
interface = "abcdefghijklmno"
fwmark = 4294967295
resolve_interval = "2s"
resolve_timeout = "1999ms"
)",
                        "bounds.toml");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->groups[0].options.interface.size(), 15u);
  EXPECT_EQ(r->groups[0].options.fwmark, 4294967295u);
  EXPECT_EQ(r->groups[0].options.resolve_timeout, milliseconds(1999));
}

TEST(ConfigTest, TargetFilesAloneAreEnough) {
  ParseResult r = Parse("[[target_files]]\npath = \"hosts.txt\"\n", "/etc/pe/ping.toml");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->groups.empty());
  ASSERT_EQ(r->target_files.size(), 1u);
  EXPECT_EQ(r->target_files[0].path, "/etc/pe/hosts.txt");
  EXPECT_EQ(r->target_files[0].name, "file-1");
  EXPECT_EQ(r->target_files[0].format, TargetFileFormat::kLines);
  EXPECT_EQ(r->target_files[0].options, ProbeOptions{});
}

TEST(ConfigTest, TargetFilePathsAndFormats) {
  struct Case {
    const char* written;
    const char* absolute;
    TargetFileFormat format;
  };
  const Case kCases[] = {
      {"a.txt", "/cfg/dir/a.txt", TargetFileFormat::kLines},
      {"a", "/cfg/dir/a", TargetFileFormat::kLines},
      {"../up/b.json", "/cfg/up/b.json", TargetFileFormat::kFileSd},
      {"./c.yml", "/cfg/dir/c.yml", TargetFileFormat::kFileSd},
      {"/abs//d.YAML", "/abs/d.YAML", TargetFileFormat::kFileSd},
      {"e.json.bak", "/cfg/dir/e.json.bak", TargetFileFormat::kLines},
      {"sub/.yaml", "/cfg/dir/sub/.yaml", TargetFileFormat::kLines},  // a dot file, no extension
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.written);
    std::string toml = std::string("[[target_files]]\npath = \"") + c.written + "\"\n";
    ParseResult r = Parse(toml, "/cfg/dir/ping.toml");
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->target_files[0].path, c.absolute);
    EXPECT_EQ(r->target_files[0].format, c.format);
  }
  // An explicit format wins over the extension.
  ParseResult lines = Parse("[[target_files]]\npath = \"x.json\"\nformat = \"lines\"\n", "/c.toml");
  ASSERT_TRUE(lines.has_value()) << lines.error().ToString();
  EXPECT_EQ(lines->target_files[0].format, TargetFileFormat::kLines);
  EXPECT_EQ(TargetFileFormatName(TargetFileFormat::kLines), "lines");
  EXPECT_EQ(TargetFileFormatName(TargetFileFormat::kFileSd), "file_sd");
}

TEST(ConfigTest, RelativeTargetFileWithoutDirectoryUsesWorkingDirectory) {
  ParseResult r = Parse("[[target_files]]\npath = \"t.txt\"\n", "<embedded default>");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->target_files[0].path, (std::filesystem::current_path() / "t.txt").string());
}

TEST(ConfigTest, LabelRules) {
  EXPECT_TRUE(IsLabelName("_a1"));
  EXPECT_FALSE(IsLabelName("1a"));
  EXPECT_FALSE(IsLabelName("a-b"));
  for (const char* name :
       {"target", "address", "group", "source", "status", "stat", "reason", "job", "instance"}) {
    EXPECT_TRUE(IsReservedLabel(name)) << name;
  }
  EXPECT_FALSE(IsReservedLabel("site"));
}

TEST(ConfigTest, RoundMayEndJustBeforeTheNextOne) {
  // (2-1)*499ms+500ms = 999ms < 1s is fine; one more millisecond of spacing is not.
  const char* kFits = "[[targets]]\nhosts = [\"::1\"]\nspacing = \"499ms\"\n";
  const char* kTooLong = "[[targets]]\nhosts = [\"::1\"]\nspacing = \"500ms\"\n";
  ParseResult fits = Parse(kFits, "fits.toml");
  EXPECT_TRUE(fits.has_value()) << fits.error().ToString();
  ParseResult too_long = Parse(kTooLong, "too-long.toml");
  ASSERT_FALSE(too_long.has_value());
  EXPECT_NE(too_long.error().message.find("(2-1)*500ms+500ms = 1s"), std::string::npos)
      << too_long.error().message;
}

TEST(ConfigTest, CountOneIgnoresSpacing) {
  ParseResult r = Parse("[[targets]]\nhosts = [\"::1\"]\ncount = 1\nspacing = \"10s\"\n", "c.toml");
  // A huge spacing is harmless with one request a round; only timeout < interval matters.
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
}

TEST(ConfigTest, UnknownKeyFarFromAnyKnownKeyGetsNoSuggestion) {
  ParseResult r = Parse("[defaults]\nzzzzzz = 1\n[[targets]]\nhosts = [\"::1\"]\n", "u.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.find("did you mean"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("known keys: interval timeout"), std::string::npos)
      << r.error().message;
}

TEST(ConfigTest, HostFormsThatAreAccepted) {
  ParseResult r = Parse(R"([[targets]]
hosts = ["127.0.0.1", "::1", "localhost", "ip6-localhost.", "[::ffff:127.0.0.2]", "a_b-c.d9"]
)",
                        "hosts.toml");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  // Hosts are kept as written: they become the `target` label.
  EXPECT_EQ(r->groups[0].hosts[4], "[::ffff:127.0.0.2]");
  EXPECT_EQ(r->groups[0].hosts.size(), r->groups[0].host_positions.size());
}

TEST(ConfigTest, EmbeddedDefaultParses) {
  ParseResult r = LoadEmbeddedDefault();
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->source_name, "<embedded default>");
  EXPECT_TRUE(r->group_label) << "series carry the group's name unless opted out";
  ASSERT_EQ(r->groups.size(), 1u);
  const TargetGroup& g = r->groups[0];
  EXPECT_EQ(g.name, "loopback");
  EXPECT_EQ(g.hosts, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ(g.family, Family::kAny);
  EXPECT_EQ(g.options.interval, seconds(1));
  EXPECT_EQ(g.options.count, 2u);
  EXPECT_EQ(g.options.spacing, milliseconds(100));
  EXPECT_EQ(g.options.timeout, milliseconds(500));
  EXPECT_EQ(r->defaults.rtt_buckets, DefaultRttBuckets());

  ParseResult again = Parse(EmbeddedDefaultToml(), "x");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->groups[0].hosts, g.hosts);
}

TEST(ConfigTest, DefaultRttBucketsSpan100usTo10sExponentially) {
  std::vector<double> b = DefaultRttBuckets();
  ASSERT_GE(b.size(), 15u);
  ASSERT_LE(b.size(), 25u);
  EXPECT_DOUBLE_EQ(b.front(), 0.0001);
  EXPECT_DOUBLE_EQ(b.back(), 10.0);
  for (size_t i = 1; i < b.size(); ++i) {
    double ratio = b[i] / b[i - 1];
    EXPECT_GT(ratio, 1.5) << i;
    EXPECT_LT(ratio, 2.1) << i;
  }
}

TEST(ConfigTest, FamilyNames) {
  EXPECT_EQ(FamilyName(Family::kIp4), "ip4");
  EXPECT_EQ(FamilyName(Family::kIp6), "ip6");
  EXPECT_EQ(FamilyName(Family::kAny), "any");
  for (Family f : {Family::kIp4, Family::kIp6, Family::kAny}) {
    EXPECT_EQ(ParseFamily(FamilyName(f)), f);
  }
  for (const char* bad : {"", "IP4", "ipv4", "ip4 ", "4", "both"}) {
    EXPECT_FALSE(ParseFamily(bad).has_value()) << bad;
  }
}

TEST(ConfigTest, LoadFileReportsUnreadableFiles) {
  std::string missing = kTestdata + "/does-not-exist.toml";
  ParseResult r = LoadFile(missing);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().ToString(), missing + ": cannot read: No such file or directory");

  ParseResult dir = LoadFile(kTestdata);
  ASSERT_FALSE(dir.has_value());
  EXPECT_EQ(dir.error().message, "cannot read: Is a directory");
}

TEST(ConfigTest, ErrorsQuoteAtMost80CharactersOfAnyInput) {
  const std::string big(1u << 20, 'x');
  for (const std::string& toml :
       {"[[targets]]\nhosts = [\"" + big + "!\"]\n",
        "[[targets]]\nhosts = [\"::1\"]\nlabels = { " + big + " = 1 }\n",
        "[[targets]]\nhosts = [\"::1\"]\nlabels = { " + big + " = \"\\u0001\" }\n",
        "[[targets]]\nname = \"" + big + "\\u0001\"\nhosts = [\"::1\"]\n", big + " = 1\n"}) {
    ParseResult r = Parse(toml, "big.toml");
    ASSERT_FALSE(r.has_value());
    EXPECT_LT(r.error().ToString().size(), 300u) << r.error().ToString().substr(0, 300);
  }
}

TEST(ConfigTest, SyntaxErrorsCarryNoControlBytes) {
  // toml++ quotes what it saw; a control byte there would reach logs and the status page.
  ParseResult r = Parse("x = tru\x01\n", "c.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("'tru\\x01'"), std::string::npos) << r.error().message;
  EXPECT_EQ(UnprintableReason(r.error().ToString()), std::nullopt);
}

TEST(ConfigTest, ParseNeverThrowsOnTruncatedOrGarbledInput) {
  // Every prefix of a valid file, and each byte flipped, gives a Config or a positioned Error.
  std::string text = ReadText(kTestdata + "/valid-full.toml");
  ASSERT_FALSE(text.empty());
  uint32_t lines = 1;
  for (char ch : text) lines += ch == '\n' ? 1 : 0;
  ASSERT_TRUE(Parse(text, "t.toml").has_value());
  size_t accepted = 0;
  for (size_t n = 0; n <= text.size(); ++n) {
    for (char replacement : {'\0', '\x01', '\xff'}) {
      // '\0' stands for "cut here"; the others replace byte n.
      std::string input = text.substr(0, n);
      if (replacement != '\0' && n < text.size()) input += replacement + text.substr(n + 1);
      ParseResult r = Parse(input, "t.toml");
      if (r.has_value()) {
        ++accepted;
        continue;
      }
      EXPECT_LE(r.error().position.line, lines) << r.error().ToString();
      EXPECT_FALSE(r.error().message.empty());
    }
  }
  // Most cuts and flips are invalid (no targets, a broken line, a control byte).
  EXPECT_GE(accepted, 1u);
  EXPECT_LT(accepted, text.size());
}

TEST(ConfigTest, ExampleConfigParses) {
  ParseResult r = LoadFile(kExampleConfig);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_FALSE(r->groups.empty());
  // Only loopback may appear in the example: it is run by tests.
  for (const TargetGroup& g : r->groups) {
    for (const std::string& h : g.hosts) {
      EXPECT_TRUE(h == "127.0.0.1" || h == "::1" || h == "localhost") << h;
    }
  }
}

TEST(ConfigTest, ExampleConfigDocumentsEveryKey) {
  std::string text = ReadText(kExampleConfig);
  ASSERT_FALSE(text.empty());
  size_t keys = 0;
  for (detail::Table table : {detail::Table::kTop, detail::Table::kDefaults, detail::Table::kGroup,
                              detail::Table::kFile}) {
    for (std::string_view key : detail::KnownKeys(table)) {
      std::string k(key);
      // A key is documented where it is assigned, possibly in a comment ("# ttl = 64"); a
      // table where it starts.
      bool documented =
          text.find(k + " =") != std::string::npos || text.find("[" + k + "]") != std::string::npos;
      EXPECT_TRUE(documented) << key;
      ++keys;
    }
  }
  EXPECT_GE(keys, 25u);
}

}  // namespace
}  // namespace ping_exporter::config
