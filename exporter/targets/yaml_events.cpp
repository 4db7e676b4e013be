#include "targets/yaml_events.h"

#include <yaml.h>

#include <cstddef>
#include <string>

#include "common/text.h"

namespace ping_exporter::targets::yaml {
namespace {

using doc::Kind;
using doc::Position;

// file_sd needs three levels; the limit only bounds the parser's own stacks.
constexpr size_t kMaxDepth = 64;
constexpr std::string_view kNullTag = "tag:yaml.org,2002:null";

/// Owns a libyaml parser; not copyable.
class YamlParser {
 public:
  YamlParser() : ok_(yaml_parser_initialize(&parser_) != 0) {}
  ~YamlParser() {
    if (ok_) yaml_parser_delete(&parser_);
  }
  YamlParser(const YamlParser&) = delete;
  YamlParser& operator=(const YamlParser&) = delete;

  bool ok() const { return ok_; }
  yaml_parser_t* get() { return &parser_; }

 private:
  yaml_parser_t parser_{};
  bool ok_;
};

/// Owns one event; not copyable.
struct Event {
  yaml_event_t e{};
  Event() = default;
  ~Event() { yaml_event_delete(&e); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

Position At(const yaml_mark_t& mark) {
  return Position{static_cast<uint32_t>(mark.line + 1), static_cast<uint32_t>(mark.column + 1)};
}

// libyaml's reader errors (bad UTF-8, control characters) carry a byte offset, not a mark.
Position AtOffset(std::string_view text, size_t offset) {
  Position p{1, 1};
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

doc::ParseError ErrorOf(const yaml_parser_t& p, std::string_view text) {
  if (p.error == YAML_MEMORY_ERROR) return {{}, "out of memory"};
  std::string message = p.problem != nullptr ? p.problem : "syntax error";
  if (p.error == YAML_READER_ERROR) return {AtOffset(text, p.problem_offset), message};
  if (p.context != nullptr) {
    Position c = At(p.context_mark);
    message += " (" + std::string(p.context) + " at " + std::to_string(c.line) + ":" +
               std::to_string(c.column) + ")";
  }
  return {At(p.problem_mark), message};
}

bool IsNull(const yaml_event_t& e) {
  const char* tag = reinterpret_cast<const char*>(e.data.scalar.tag);
  if (tag != nullptr) return kNullTag == tag;
  if (e.data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
  std::string_view v(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length);
  return v.empty() || v == "~" || v == "null" || v == "Null" || v == "NULL";
}

}  // namespace

doc::ReadResult Parse(std::string_view text, doc::Sink& sink) {
  YamlParser parser;
  if (!parser.ok()) return MakeUnexpected(doc::ParseError{{}, "out of memory"});
  yaml_parser_set_input_string(parser.get(), reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  size_t depth = 0;
  while (true) {
    Event event;
    if (yaml_parser_parse(parser.get(), &event.e) == 0) {
      return MakeUnexpected(ErrorOf(*parser.get(), text));
    }
    const yaml_event_t& e = event.e;
    Position at = At(e.start_mark);
    bool go_on = true;
    switch (e.type) {
      case YAML_NO_EVENT:
      case YAML_STREAM_END_EVENT:
      case YAML_DOCUMENT_END_EVENT:  // the first document is all that is read
        return true;
      case YAML_STREAM_START_EVENT:
      case YAML_DOCUMENT_START_EVENT:
        break;
      case YAML_ALIAS_EVENT:
        return MakeUnexpected(doc::ParseError{
            at, "aliases (here *" + Escaped(reinterpret_cast<const char*>(e.data.alias.anchor)) +
                    ") are not supported in target files: write the values out"});
      case YAML_SCALAR_EVENT:
        go_on = sink.Scalar(IsNull(e) ? Kind::kNull : Kind::kString,
                            std::string_view(reinterpret_cast<const char*>(e.data.scalar.value),
                                             e.data.scalar.length),
                            at);
        break;
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT:
        if (++depth > kMaxDepth) {
          return MakeUnexpected(
              doc::ParseError{at, "nested deeper than " + std::to_string(kMaxDepth)});
        }
        go_on = sink.Begin(e.type == YAML_SEQUENCE_START_EVENT ? Kind::kList : Kind::kMap, at);
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        --depth;
        go_on = sink.End();
        break;
    }
    if (!go_on) return false;
  }
}

}  // namespace ping_exporter::targets::yaml
