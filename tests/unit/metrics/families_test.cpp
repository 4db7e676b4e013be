#include "metrics/families.h"

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/round_state.h"
#include "metrics/target_rows.h"

namespace ping_exporter::metrics {
namespace {

const std::filesystem::path kSourceDir = PE_SOURCE_DIR;

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(' ');
  size_t e = s.find_last_not_of(' ');
  return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
}

struct ReadmeFamily {
  std::string type;
  std::vector<std::string> labels;  ///< names in `{…}` after the family name
  bool braces = false;
};

// The rows of README's "## Metrics" table: every `name{labels}` of a row's
// first cell, with the row's type.
std::map<std::string, ReadmeFamily> ReadmeFamilies() {
  std::istringstream in(ReadText(kSourceDir / "README.md"));
  std::map<std::string, ReadmeFamily> out;
  std::string line;
  bool in_section = false;
  while (std::getline(in, line)) {
    if (line.starts_with("## ")) in_section = line == "## Metrics";
    if (!in_section || !line.starts_with("| `")) continue;
    // Cells are split at '|' that is not escaped (`\|` inside a cell).
    std::vector<std::string> cells{""};
    for (size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '|' && line[i - 1] != '\\') {
        cells.emplace_back();
      } else {
        cells.back() += line[i];
      }
    }
    EXPECT_GE(cells.size(), 3u) << line;
    if (cells.size() < 3) continue;
    const std::string type = Trim(cells[1]);
    for (size_t open = cells[0].find('`'); open != std::string::npos;) {
      size_t close = cells[0].find('`', open + 1);
      if (close == std::string::npos) break;
      std::string code = cells[0].substr(open + 1, close - open - 1);
      ReadmeFamily f{type, {}, false};
      if (size_t brace = code.find('{'); brace != std::string::npos) {
        f.braces = true;
        std::string inside = code.substr(brace + 1, code.rfind('}') - brace - 1);
        code.resize(brace);
        std::istringstream parts(inside);
        for (std::string part; std::getline(parts, part, ',');) {
          f.labels.push_back(part.substr(0, part.find('=')));
        }
      }
      EXPECT_TRUE(out.emplace(code, f).second) << code << " listed twice in README";
      open = cells[0].find('`', close + 1);
    }
  }
  return out;
}

TEST(FamiliesTest, TableIsWellFormed) {
  std::set<std::string_view> names;
  for (const Family* f : kAllFamilies) {
    SCOPED_TRACE(std::string(f->name));
    EXPECT_TRUE(names.insert(f->name).second) << "duplicate";
    EXPECT_TRUE(IsIdentifier(f->name));
    const bool total = f->name.ends_with("_total");
    EXPECT_EQ(total, f->type == MetricType::kCounter) << "_total exactly on counters";
    if (!f->unit.empty()) {
      std::string_view base = f->name.substr(0, f->name.size() - (total ? 6 : 0));
      EXPECT_TRUE(base.ends_with("_" + std::string(f->unit))) << "name ends in its unit";
    }
    for (size_t i = 0; i < f->label_count(); ++i) EXPECT_TRUE(IsIdentifier(f->labels[i]));
    for (size_t i = f->label_count(); i < f->labels.size(); ++i) EXPECT_TRUE(f->labels[i].empty());
    EXPECT_TRUE(!f->round || f->scope == Scope::kTarget);
    EXPECT_TRUE(f->help.ends_with(".")) << "help is a sentence";
    EXPECT_EQ(f->help.find('\n'), std::string_view::npos);
  }
}

TEST(FamiliesTest, ReadmeMetricsTableAgreesWithTheTable) {
  const std::map<std::string, ReadmeFamily> readme = ReadmeFamilies();
  ASSERT_FALSE(readme.empty()) << "no metrics table in README.md";
  std::set<std::string> ours;
  for (const Family* f : kAllFamilies) {
    const std::string name(f->name);
    ours.insert(name);
    auto it = readme.find(name);
    if (it == readme.end()) {
      ADD_FAILURE() << name << " is missing from README's metrics table";
      continue;
    }
    EXPECT_EQ(it->second.type, TextTypeName(f->type)) << name;
    std::vector<std::string> labels(f->labels.begin(), f->labels.begin() + f->label_count());
    EXPECT_EQ(it->second.labels, labels) << name << ": README shows other label names";
  }
  for (const auto& [name, row] : readme) {
    if (name.starts_with("ping_")) {
      EXPECT_TRUE(ours.count(name)) << name << " is in README but the exporter has no such family";
    }
  }
}

// "Defined once" holds only if no writer spells a name itself: every family
// name appears in exactly one file under exporter/ (as a word, comments included).
TEST(FamiliesTest, NamesAreSpelledOnlyInTheTable) {
  std::map<std::string, std::string> sources;  // path -> text
  for (const auto& entry : std::filesystem::recursive_directory_iterator(kSourceDir / "exporter")) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".cpp" || ext == ".h")) {
      sources[entry.path().lexically_relative(kSourceDir).string()] = ReadText(entry.path());
    }
  }
  ASSERT_TRUE(sources.count("exporter/metrics/families.h"));
  // As a whole word, comments included: "ping_rtt_seconds" but not "ping_rtt_seconds_bucket".
  auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  auto mentions = [&](const std::string& text, std::string_view name) {
    for (size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
      bool starts = at == 0 || !is_word(text[at - 1]);
      size_t end = at + name.size();
      if (starts && (end == text.size() || !is_word(text[end]))) return true;
    }
    return false;
  };
  for (const Family* f : kAllFamilies) {
    std::vector<std::string> files;
    for (const auto& [path, text] : sources) {
      if (mentions(text, f->name)) files.push_back(path);
    }
    EXPECT_EQ(files, std::vector<std::string>{"exporter/metrics/families.h"}) << f->name;
  }
}

// Series a target of profile `p` has of `f` on a healthy network, where anomaly counters are 0.
size_t SeriesOf(const Family& f, Profile p, size_t histogram_series) {
  if (f.zeros == Zeros::kNever || (f.zeros == Zeros::kInFull && p != Profile::kFull)) return 0;
  if (f.type == MetricType::kHistogram) return histogram_series;
  if (&f == &family::kStatus) return kRoundStates.size();
  if (&f == &family::kRoundRtt) return detail::kRoundRttStats.size();
  return 1;
}

TEST(FamiliesTest, ReadmeStatesTheSeriesOfEachProfile) {
  const std::string readme = ReadText(kSourceDir / "README.md");
  const size_t classic = 21 + 3;  // the 21 default bounds, +Inf, _sum, _count
  for (Profile p : {Profile::kMinimal, Profile::kDefault, Profile::kFull}) {
    size_t with_classic = 0, with_native = 0;
    for (const Family* f : kAllFamilies) {
      if (f->scope != Scope::kTarget || f->profile > p) continue;
      with_classic += SeriesOf(*f, p, classic);
      with_native += SeriesOf(*f, p, 1);
    }
    const std::string c = std::to_string(with_classic), n = std::to_string(with_native);
    const std::string row_end = " | " + c + " | " + n + " | " + c + " / " + n + " |\n";
    const size_t row = readme.find("\n| " + std::string(ProfileName(p)) + " | ");
    ASSERT_NE(row, std::string::npos) << ProfileName(p);
    EXPECT_EQ(readme.find(row_end, row), readme.find('\n', row + 1) - row_end.size() + 1)
        << ProfileName(p) << " should end with" << row_end;
  }
}

}  // namespace
}  // namespace ping_exporter::metrics
