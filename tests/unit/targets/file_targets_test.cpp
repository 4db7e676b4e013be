#include "targets/file_targets.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace ping_exporter::targets {
namespace {

using test_util::TempDir;

const std::string kTestdata = PE_TESTDATA_DIR "/targets/testdata";

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

FileParseResult Load(const std::string& name) {
  std::string path = kTestdata + "/" + name;
  config::TargetFileFormat format = name.size() > 4 && name.substr(name.size() - 4) == ".txt"
                                        ? config::TargetFileFormat::kLines
                                        : config::TargetFileFormat::kFileSd;
  return ParseTargetFile(ReadText(path), path, format);
}

std::vector<std::string> Hosts(const FileTargets& targets) {
  std::vector<std::string> out;
  for (FileTarget t : targets) out.emplace_back(t.host);
  return out;
}

// One broken target file, the message it must produce (a substring) and where it must point.
struct InvalidCase {
  const char* file;
  const char* message;
  uint32_t line;
  uint32_t column;
};

const InvalidCase kInvalidCases[] = {
    {"invalid-lines-bad-host.txt",
     "\"not a host\" is not an IP address or host name (one host a line)", 4, 3},
    {"invalid-lines-host-port.txt", "\"127.0.0.1:9100\" is not an IP address or host name", 1, 1},
    {"invalid-lines-bad-ip.txt", "\"256.1.1.1\" is not an IP address or host name", 2, 3},
    {"invalid-json-syntax.json", "invalid JSON: trailing ',' before ']' (not allowed in JSON)", 2,
     28},
    {"invalid-json-single-quotes.json", "invalid JSON: expected a quoted key, got '''", 1, 3},
    {"invalid-json-empty.json", "invalid JSON: expected a JSON value, got end of file", 1, 1},
    {"invalid-json-not-list.json",
     "expected a list of target groups such as [{\"targets\": [\"host\"], \"labels\": {}}], got "
     "object",
     1, 1},
    {"invalid-json-group-not-object.json",
     "[0]: expected a target group {\"targets\": [...], \"labels\": {...}}, got array", 2, 3},
    {"invalid-json-unknown-key.json",
     "[0]: unknown key \"label\" (expected \"targets\" or \"labels\")", 2, 30},
    {"invalid-json-duplicate-key.json", "[0]: duplicate key \"targets\"", 2, 30},
    {"invalid-json-targets-not-list.json", "[0].targets: expected a list of strings, got string", 2,
     15},
    {"invalid-json-target-not-string.json",
     "[0].targets[1]: expected a string such as \"host\" or \"host:port\", got number", 2, 29},
    {"invalid-json-bad-port.json",
     "[0].targets[0]: \"127.0.0.1:99999\" is not \"host\", \"host:port\" or \"[ipv6]:port\"", 2,
     16},
    {"invalid-json-empty-port.json", "[0].targets[0]: \"localhost:\" is not \"host\"", 2, 16},
    {"invalid-json-ipv6-without-brackets-port.json", "[0].targets[0]: \"::1:9100:x\" is not", 2,
     16},
    {"invalid-json-unclosed-bracket.json", "[0].targets[0]: \"[::1:9100\" is not", 2, 16},
    {"invalid-json-bad-host.json",
     "[0].targets[1]: \"bad_host!\" is not an IP address or host name", 2, 29},
    {"invalid-json-label-bad-name.json",
     "[0].labels: \"site-name\" is not a valid label name (expected [a-zA-Z_][a-zA-Z0-9_]*)", 2,
     41},
    {"invalid-json-label-reserved.json",
     "[0].labels: label name \"instance\" is reserved (the exporter or Prometheus sets it)", 2, 41},
    {"invalid-json-label-value-number.json",
     "[0].labels.rack: expected a string label value, got number", 2, 49},
    {"invalid-json-label-duplicate.json", "[0].labels: duplicate label name \"a\"", 2, 51},
    {"invalid-json-labels-not-object.json",
     "[0].labels: expected a map of label names to values, got array", 2, 40},
    {"invalid-yaml-syntax.yml",
     "invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at 1:12)", 2,
     1},
    // Bytes that /metrics, logs and the status page cannot carry: refused with their offset.
    {"invalid-lines-nul.txt",
     "\"127.0.0.13\\x00\\xff\" is not an IP address or host name (NUL byte at offset 10)", 2, 1},
    {"invalid-lines-invalid-utf8.txt",
     "\"caf\\xe9.example\" is not an IP address or host name (invalid UTF-8 at offset 3)", 2, 1},
    {"invalid-lines-control-character.txt",
     "\"host\\x7f\" is not an IP address or host name (control character \\x7f at offset 4)", 1, 3},
    {"invalid-json-target-nul.json",
     "[0].targets[1]: \"127.0.0.13\\x00\xC3\xBF\" is not an IP address or host name (NUL byte at "
     "offset 10)",
     2, 29},
    {"invalid-json-target-raw-nul.json",
     "invalid JSON: control character in string (write it as an escape such as \\n)", 2, 27},
    {"invalid-json-label-value-newline.json",
     "[0].labels.site: \"a\\x0ab\" must be printable UTF-8 text (control character \\x0a at "
     "offset 1)",
     2, 43},
    {"invalid-json-label-value-c1-control.json",
     "[0].labels.rack: \"r\\xc2\\x85\" must be printable UTF-8 text (control character "
     "\\xc2\\x85 at offset 1)",
     2, 43},
    {"invalid-yaml-target-nul.yml",
     "[0].targets[0]: \"127.0.0.13\\x00\xC3\xBF\" is not an IP address or host name (NUL byte at "
     "offset 10)",
     1, 13},
    {"invalid-yaml-label-value-tab.yml",
     "[0].labels.site: \"a\\x09b\" must be printable UTF-8 text (control character \\x09 at "
     "offset 1)",
     2, 18},
    {"invalid-yaml-raw-invalid-utf8.yml", "invalid YAML: invalid leading UTF-8 octet", 2, 21},
    {"invalid-yaml-raw-control-character.yml", "invalid YAML: control characters are not allowed",
     2, 20},
    // Aliases are refused, never expanded: a few bytes could stand for millions of values.
    {"invalid-yaml-alias.yml",
     "invalid YAML: aliases (here *loopback) are not supported in target files", 2, 12},
    {"invalid-yaml-label-key-not-string.yml", "[0].labels: expected a string key, got array", 3, 7},
    {"invalid-yaml-not-list.yml", "expected a list of target groups", 1, 1},
    {"invalid-yaml-label-reserved.yml", "[0].labels: label name \"job\" is reserved", 4, 5},
    {"invalid-yaml-label-value-list.yml",
     "[0].labels.site: expected a string label value, got array", 3, 11},
    {"invalid-yaml-bad-host.yml", "[0].targets[1]: \"two words\" is not an IP address or host name",
     3, 7},
    {"invalid-yaml-unknown-key.yml", "[0]: unknown key \"lables\"", 2, 3},
};

TEST(FileTargetsTest, EveryBrokenFileIsRejectedWithMessageAndPosition) {
  for (const InvalidCase& c : kInvalidCases) {
    SCOPED_TRACE(c.file);
    FileParseResult r = Load(c.file);
    ASSERT_FALSE(r.has_value());
    const config::Error& e = r.error();
    EXPECT_EQ(e.file, kTestdata + "/" + c.file);
    EXPECT_NE(e.message.find(c.message), std::string::npos)
        << "message: " << e.message << "\nwanted:  " << c.message;
    EXPECT_EQ(e.position.line, c.line) << e.ToString();
    EXPECT_EQ(e.position.column, c.column) << e.ToString();
    // Errors read "path:line:column: message".
    EXPECT_EQ(e.ToString().rfind(kTestdata + "/" + c.file + ":" + std::to_string(c.line) + ":", 0),
              0u)
        << e.ToString();
  }
}

TEST(FileTargetsTest, EveryInvalidTestdataFileHasACase) {
  std::set<std::string> listed;
  for (const InvalidCase& c : kInvalidCases) EXPECT_TRUE(listed.insert(c.file).second) << c.file;
  std::set<std::string> on_disk;
  for (const auto& entry : std::filesystem::directory_iterator(kTestdata)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("invalid-", 0) == 0) on_disk.insert(name);
  }
  EXPECT_EQ(on_disk, listed);
}

TEST(FileTargetsTest, LinesFileWithCommentsBlanksAndWhitespace) {
  FileParseResult r = Load("valid.txt");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(Hosts(*r),
            (std::vector<std::string>{"127.0.0.1", "::1", "localhost", "[::ffff:127.0.0.2]",
                                      "LAB-host_1.example.", "last.invalid"}));
  // Line and column of each host, 1-based; a tab counts as one column.
  std::vector<std::pair<uint32_t, uint32_t>> where;
  for (FileTarget t : *r) {
    where.emplace_back(t.line, t.column);
    EXPECT_EQ(t.labels, nullptr);
  }
  EXPECT_EQ(where, (std::vector<std::pair<uint32_t, uint32_t>>{
                       {3, 1}, {4, 3}, {5, 2}, {6, 1}, {7, 1}, {9, 1}}));
}

TEST(FileTargetsTest, LinesEdgeCases) {
  EXPECT_TRUE(ParseLines("", "e.txt")->empty());
  EXPECT_TRUE(ParseLines("\n\n# only comments\n   \n", "e.txt")->empty());
  // CRLF files and a byte order mark are common from Windows editors.
  FileParseResult crlf = ParseLines(
      "\xEF\xBB\xBF"
      "127.0.0.1\r\n::1\r\n",
      "crlf.txt");
  ASSERT_TRUE(crlf.has_value()) << crlf.error().ToString();
  EXPECT_EQ(Hosts(*crlf), (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_EQ((*crlf)[0].column, 4u);  // after the three BOM bytes
  // Trailing comments need no space before them.
  FileParseResult trailing = ParseLines("localhost# the box itself\n", "t.txt");
  ASSERT_TRUE(trailing.has_value());
  EXPECT_EQ(Hosts(*trailing), (std::vector<std::string>{"localhost"}));
  // Names are held to the same rules as [[targets]] hosts.
  for (const char* bad : {"127.1", "a..b", "-a.example", "a b", "host/24", "[::1", "\x01"}) {
    SCOPED_TRACE(bad);
    FileParseResult r = ParseLines(std::string("::1\n") + bad + "\n", "b.txt");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().position.line, 2u);
    EXPECT_EQ(r.error().file, "b.txt");
  }
  // Control bytes are escaped in messages.
  FileParseResult ctl = ParseLines(
      "a\x01"
      "b\n",
      "c.txt");
  ASSERT_FALSE(ctl.has_value());
  EXPECT_NE(ctl.error().message.find("\"a\\x01b\""), std::string::npos) << ctl.error().message;
}

TEST(FileTargetsTest, FileSdJsonWithLabelsPortsAndIpv6) {
  FileParseResult r = Load("valid.json");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(Hosts(*r), (std::vector<std::string>{"127.0.0.1", "::1", "localhost", "::1",
                                                 "::ffff:127.0.0.3", "127.0.0.4"}));
  // "__" labels are dropped; the rest sorted; \u escapes decoded to UTF-8.
  config::Labels first{{"rack", "r\xC3\xA9"}, {"site", "lab"}};
  ASSERT_NE((*r)[0].labels, nullptr);
  EXPECT_EQ(*(*r)[0].labels, first);
  // One list, shared by the targets of the group.
  for (size_t i = 1; i < 5; ++i) EXPECT_EQ((*r)[i].labels, (*r)[0].labels) << i;
  EXPECT_EQ((*r)[5].labels, nullptr);
  EXPECT_EQ((*r)[0].line, 3u);
  EXPECT_EQ((*r)[0].column, 17u);
  EXPECT_EQ((*r)[5].line, 6u);
}

TEST(FileTargetsTest, FileSdYamlWithLabelsPortsAndIpv6) {
  FileParseResult r = Load("valid.yml");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(Hosts(*r),
            (std::vector<std::string>{"127.0.0.1", "::1", "localhost", "::1", "127.0.0.4"}));
  config::Labels first{{"rack", "1"}, {"site", "lab"}};
  ASSERT_NE((*r)[0].labels, nullptr);
  EXPECT_EQ(*(*r)[0].labels, first);
  EXPECT_EQ((*r)[3].labels, (*r)[0].labels);
  EXPECT_EQ((*r)[4].labels, nullptr);
  EXPECT_EQ((*r)[1].line, 4u);
  EXPECT_EQ((*r)[1].column, 7u);
}

TEST(FileTargetsTest, FileSdEmptyForms) {
  // An empty YAML file is an empty list (as in Prometheus); empty JSON is not JSON.
  EXPECT_TRUE(ParseFileSd("", "e.yml", false)->empty());
  EXPECT_TRUE(ParseFileSd("# nothing yet\n", "e.yml", false)->empty());
  EXPECT_TRUE(ParseFileSd("[]", "e.json", true)->empty());
  EXPECT_TRUE(ParseFileSd("[{}]", "e.json", true)->empty());
  EXPECT_FALSE(ParseFileSd("", "e.json", true).has_value());
  EXPECT_FALSE(ParseFileSd("   \n", "e.json", true).has_value());
}

TEST(FileTargetsTest, JsonFilesAreStrictYamlIsNot) {
  // Valid YAML flow syntax, but not JSON: refused in a .json file.
  const std::string kYamlish = "[{targets: ['127.0.0.1']}]";
  EXPECT_FALSE(ParseTargetFile(kYamlish, "a.json", config::TargetFileFormat::kFileSd).has_value());
  EXPECT_FALSE(ParseTargetFile(kYamlish, "a.JSON", config::TargetFileFormat::kFileSd).has_value());
  FileParseResult yaml = ParseTargetFile(kYamlish, "a.yaml", config::TargetFileFormat::kFileSd);
  ASSERT_TRUE(yaml.has_value()) << yaml.error().ToString();
  EXPECT_EQ(Hosts(*yaml), (std::vector<std::string>{"127.0.0.1"}));
  // The lines format reads the same text as one (bad) host.
  EXPECT_FALSE(ParseTargetFile(kYamlish, "a.json", config::TargetFileFormat::kLines).has_value());
}

TEST(FileTargetsTest, HostOfTarget) {
  struct Case {
    const char* target;
    const char* host;  // nullptr: rejected
  };
  const Case kCases[] = {
      {"127.0.0.1", "127.0.0.1"},
      {"127.0.0.1:9100", "127.0.0.1"},
      {"127.0.0.1:0", "127.0.0.1"},
      {"127.0.0.1:65535", "127.0.0.1"},
      {"localhost:80", "localhost"},
      {"localhost", "localhost"},
      {"::1", "::1"},
      {"2001:db8::1", "2001:db8::1"},
      {"[::1]", "::1"},
      {"[::1]:9100", "::1"},
      {"[127.0.0.1]:80", "127.0.0.1"},
      {"::ffff:127.0.0.1", "::ffff:127.0.0.1"},
      {"", nullptr},
      {":80", nullptr},
      {"localhost:", nullptr},
      {"localhost:http", nullptr},
      {"localhost:65536", nullptr},
      {"localhost:123456", nullptr},
      {"localhost:-1", nullptr},
      {"[::1", nullptr},
      {"[]", nullptr},
      {"[]:80", nullptr},
      {"[::1]80", nullptr},
      {"[::1]:", nullptr},
      {"[::1]:80:80", nullptr},
      {"[[::1]]", nullptr},
      {"::1]", nullptr},
      {"a:b:c", nullptr},
      {"::1:80x", nullptr},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.target);
    std::optional<std::string> h = HostOfTarget(c.target);
    if (c.host == nullptr) {
      EXPECT_FALSE(h.has_value()) << *h;
    } else {
      ASSERT_TRUE(h.has_value());
      EXPECT_EQ(*h, c.host);
    }
  }
}

TEST(FileTargetsTest, LabelRules) {
  FileParseResult r = ParseFileSd(
      R"([{"targets": ["::1"], "labels": {"__meta_a": "x", "__meta_a": "y", "z": "", "a_1": "v"}}])",
      "l.json", true);
  // A repeated "__" name is still a duplicate key: the file is refused as a whole.
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("duplicate label name \"__meta_a\""), std::string::npos);

  FileParseResult ok = ParseFileSd(
      R"([{"targets": ["::1"], "labels": {"__meta_a": "x", "z": "", "a_1": "v", "_x": "u"}}])",
      "l.json", true);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  // Empty values are kept here; Expand() decides what an empty value means.
  ASSERT_NE((*ok)[0].labels, nullptr);
  EXPECT_EQ(*(*ok)[0].labels, (config::Labels{{"_x", "u"}, {"a_1", "v"}, {"z", ""}}));
}

TEST(FileTargetsTest, YamlAliasBombIsRefusedNotExpanded) {
  // Each level doubles the size; 30 levels would be 2^30 targets once expanded.
  std::string doc = "- targets: &a0 [127.0.0.1, 127.0.0.2]\n";
  for (int i = 1; i <= 30; ++i) {
    std::string prev = std::to_string(i - 1);
    doc.append("- targets: &a").append(std::to_string(i));
    doc.append(" [*a").append(prev).append(", *a").append(prev).append("]\n");
  }
  FileParseResult r = ParseFileSd(doc, "bomb.yml", false);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("aliases (here *a0) are not supported"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().position.line, 2u);
}

TEST(FileTargetsTest, LabelsApplyWhereverTheyStandInTheGroup) {
  for (const char* text :
       {R"([{"labels": {"site": "a"}, "targets": ["::1", "127.0.0.1"]}, {"targets": ["::2"]}])",
        R"([{"targets": ["::1", "127.0.0.1"], "labels": {"site": "a"}}, {"targets": ["::2"]}])"}) {
    SCOPED_TRACE(text);
    FileParseResult r = ParseFileSd(text, "order.json", true);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    ASSERT_EQ(r->size(), 3u);
    ASSERT_NE((*r)[0].labels, nullptr);
    EXPECT_EQ(*(*r)[0].labels, (config::Labels{{"site", "a"}}));
    EXPECT_EQ((*r)[1].labels, (*r)[0].labels);
    EXPECT_EQ((*r)[2].labels, nullptr);
  }
}

// One group with 80 000 labels (about 1 MB): the duplicate check used to compare each name
// with every earlier one (11.8 s of CPU while a reload waited).
TEST(FileTargetsTest, EightyThousandLabelsParseInLinearTime) {
  std::string json = R"([{"targets": ["127.0.0.1"], "labels": {)";
  std::string yaml = "- targets: [127.0.0.1]\n  labels:\n";
  for (int i = 0; i < 80000; ++i) {
    std::string name = "l" + std::to_string(i);
    json += (i == 0 ? "\"" : ", \"") + name + "\": \"v\"";
    yaml += "    " + name + ": v\n";
  }
  json += "}}]";
  for (bool is_json : {true, false}) {
    const std::string& text = is_json ? json : yaml;
    auto start = std::chrono::steady_clock::now();
    FileParseResult r = ParseFileSd(text, is_json ? "l.json" : "l.yml", is_json);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("80 000 labels, %s, %.2f MB: %.3f s\n", is_json ? "JSON" : "YAML",
                static_cast<double>(text.size()) / 1e6, seconds);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ((*r)[0].labels->size(), 80000u);
    EXPECT_LT(seconds, 5.0);
  }
  // A duplicate at the very end is still found.
  FileParseResult dup =
      ParseFileSd(json.substr(0, json.size() - 3) + R"(, "l7": "w"}}])", "d.json", true);
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message.find("duplicate label name \"l7\""), std::string::npos);
}

TEST(FileTargetsTest, DeepNestingStopsAtOnceInEitherFormat) {
  // 8 MiB of "[" cost yaml-cpp 1.9 GB; now the first value that cannot be a group stops it.
  std::string brackets(8u << 20, '[');
  for (bool is_json : {true, false}) {
    auto start = std::chrono::steady_clock::now();
    FileParseResult r = ParseFileSd(brackets, is_json ? "b.json" : "b.yml", is_json);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("[0]: expected a target group"), std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().position.column, 2u);
    EXPECT_LT(seconds, 1.0);
  }
}

TEST(FileTargetsTest, ErrorsQuoteAtMost80CharactersOfAnyInput) {
  const std::string big(1u << 20, 'x');
  const std::pair<std::string, bool> kCases[] = {
      {"[{\"targets\": [\"" + big + "!\"]}]", true},              // bad host
      {"[{\"targets\": [\"" + big + ":99999\"]}]", true},         // bad port
      {"[{\"labels\": {\"" + big + "\": 1}}]", true},             // long name, bad value
      {"[{\"labels\": {\"" + big + "\": \"a\\u0000\"}}]", true},  // long name, NUL
      {"[{\"labels\": {\"" + big + "-\": \"v\"}}]", true},        // bad long name
      {"[{\"" + big + "\": []}]", true},                          // unknown key
      {"- labels: {" + big + ": [1]}\n", false},                  // YAML, long name
      {"- targets: [" + big + "/]\n", false},                     // YAML, bad host
  };
  for (const auto& [text, json] : kCases) {
    FileParseResult r = ParseFileSd(text, json ? "big.json" : "big.yml", json);
    ASSERT_FALSE(r.has_value());
    EXPECT_LT(r.error().ToString().size(), 300u) << r.error().ToString().substr(0, 300);
  }
  FileParseResult line = ParseLines("127.0.0.1\n" + std::string(50u << 20, 'y') + "?\n", "l.txt");
  ASSERT_FALSE(line.has_value());
  EXPECT_LT(line.error().ToString().size(), 200u);
}

TEST(FileTargetsTest, NeverThrowsOnTruncatedOrGarbledInput) {
  for (const char* name : {"valid.json", "valid.yml", "valid.txt"}) {
    std::string path = kTestdata + "/" + name;
    std::string text = ReadText(path);
    ASSERT_FALSE(text.empty());
    bool json = std::string(name).find(".json") != std::string::npos;
    bool lines = std::string(name).find(".txt") != std::string::npos;
    size_t accepted = 0;
    for (size_t n = 0; n <= text.size(); ++n) {
      for (char replacement : {'\0', '\x01', '\xff', '"', ':'}) {
        std::string input = text.substr(0, n);
        if (replacement != '\0' && n < text.size()) input += replacement + text.substr(n + 1);
        FileParseResult r = lines ? ParseLines(input, path) : ParseFileSd(input, path, json);
        if (r.has_value()) {
          ++accepted;
        } else {
          EXPECT_FALSE(r.error().message.empty());
        }
      }
    }
    EXPECT_GE(accepted, 1u) << name;
  }
}

TEST(FileTargetsTest, ReadWholeFileErrors) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  Expected<std::string, std::string> missing = ReadWholeFile(dir.path() + "/nope.txt");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error(), "cannot read: No such file or directory");

  Expected<std::string, std::string> is_dir = ReadWholeFile(dir.path());
  ASSERT_FALSE(is_dir.has_value());
  EXPECT_EQ(is_dir.error(), "cannot read: Is a directory");

  // A FIFO would block a plain open(); it is refused at once instead.
  std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Expected<std::string, std::string> pipe = ReadWholeFile(fifo);
  ASSERT_FALSE(pipe.has_value());
  EXPECT_EQ(pipe.error(), "cannot read: not a regular file");

  std::string file = dir.path() + "/ok.txt";
  std::ofstream(file) << "127.0.0.1\n";
  Expected<std::string, std::string> ok = ReadWholeFile(file);
  ASSERT_TRUE(ok.has_value()) << ok.error();
  EXPECT_EQ(*ok, "127.0.0.1\n");
}

}  // namespace
}  // namespace ping_exporter::targets
