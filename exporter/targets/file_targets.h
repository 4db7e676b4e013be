#pragma once
// Hosts listed in target files: plain lists ("lines") and Prometheus file_sd (JSON or YAML).

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/expected.h"
#include "common/file.h"
#include "config/config.h"

namespace ping_exporter::targets {

/// One host read from a target file, as FileTargets hands it out: views into the FileTargets,
/// valid while it lives.
struct FileTarget {
  std::string_view host;  ///< lines: as written; file_sd: port and IPv6 brackets removed
  /// file_sd group labels (sorted, "__" ones dropped), one list shared by the group's targets;
  /// null when there are none (always for lines).
  const config::Labels* labels = nullptr;
  uint32_t line = 0;  ///< 1-based position in the file
  uint32_t column = 0;
};

/// The hosts of one target file, in file order, packed: 20 bytes a host plus its text, and no
/// reallocation while growing, so even a file of one-letter hosts ("a\n" a line) costs about
/// 11 times its size, not the 28 of a std::string per host. A value; not thread-safe to
/// modify, safe to read from several threads.
class FileTargets {
 public:
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  FileTarget operator[](size_t i) const;

  /// Appends `host` (copied), found at line:column of its file.
  void Add(std::string_view host, uint32_t line, uint32_t column);
  /// Gives the hosts from index `first` on `labels` (a file_sd group's; never null).
  void Label(size_t first, std::shared_ptr<const config::Labels> labels);

  /// Visits the hosts in order; yields FileTarget values.
  class Iterator {
   public:
    Iterator(const FileTargets* targets, size_t i) : targets_(targets), i_(i) {}
    FileTarget operator*() const { return (*targets_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return i_ != o.i_; }

   private:
    const FileTargets* targets_;
    size_t i_;
  };
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, size()); }

 private:
  struct Entry {
    uint32_t offset;  // of the host in hosts_ (files are at most 64 MiB)
    uint32_t line;
    uint32_t column;
    uint32_t labels;  // 1 + index in label_sets_; 0: none
    uint16_t size;    // of the host (at most 254 bytes)
  };
  std::string hosts_;          // every host, back to back
  std::deque<Entry> entries_;  // grows in blocks: no copy of what is there
  std::vector<std::shared_ptr<const config::Labels>> label_sets_;
};

/// Errors name the file, and line:column where known (config::Error::ToString()).
using FileParseResult = Expected<FileTargets, config::Error>;

/// Parses a "lines" file: one host (IP literal or host name, as in [[targets]] hosts) a line;
/// a NUL, control character or invalid UTF-8 is named in the error with its offset.
/// Surrounding whitespace is trimmed; "#" starts a comment (whole line or trailing); blank lines
/// are skipped. Any invalid line fails the whole file, so a half-written file never replaces a
/// good one. Never throws.
FileParseResult ParseLines(std::string_view text, std::string_view path);

/// Parses Prometheus file_sd: a list of {"targets": [...], "labels": {...}} groups, either key
/// optional. `json` = true demands strict JSON (RFC 8259, targets/json.h), else YAML (libyaml
/// events, targets/yaml_events.h: aliases are refused). A target is "host", "host:port",
/// "[ipv6]:port", "[ipv6]" or a bare IPv6 literal; the port is dropped. Label names follow the
/// Prometheus grammar; names starting with "__" (e.g. __meta_*) are dropped; target, address,
/// status, stat, reason, job and instance are refused. Label values are strings (YAML: any
/// scalar) of printable UTF-8. Unknown keys and duplicate label names are errors. An empty YAML
/// document is an empty list. The document is checked as it is read, without a tree: time is
/// linear and memory follows the targets kept. Never throws.
FileParseResult ParseFileSd(std::string_view text, std::string_view path, bool json);

/// ParseLines or ParseFileSd by `format`; file_sd is JSON when `path` ends in ".json"
/// (any case), else YAML.
FileParseResult ParseTargetFile(std::string_view text, std::string_view path,
                                config::TargetFileFormat format);

/// Reads a whole regular file (at most 64 MiB) and fills `facts` if not null. The error is
/// "cannot read: <reason>".
Expected<std::string, std::string> ReadWholeFile(const std::string& path,
                                                 FileFacts* facts = nullptr);

/// Splits a file_sd target into its host: "a:80" -> "a", "[::1]:80" -> "::1", "::1" -> "::1",
/// "a" -> "a". nullopt when it is none of those forms (empty host, bad port, stray brackets).
/// The host itself is not validated here.
std::optional<std::string> HostOfTarget(std::string_view target);

}  // namespace ping_exporter::targets
