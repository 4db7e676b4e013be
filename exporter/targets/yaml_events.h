#pragma once
// YAML for file_sd files through libyaml's event parser: no document tree, so memory stays
// flat whatever the file holds (yaml-cpp's tree cost ~236 bytes per byte of "[").

#include <string_view>

#include "targets/doc_events.h"

namespace ping_exporter::targets::yaml {

/// Reads the first YAML document of `text` into `sink` (what follows a second "---" is not
/// read, as Prometheus reads one document). Any scalar is kString, except plain "", "~",
/// "null", "Null", "NULL" and "!!null"-tagged ones, which are kNull. Aliases ("*name") are
/// refused rather than expanded, so a few bytes cannot stand for millions of values; nesting
/// deeper than 64 levels is refused. An empty stream is read as no document at all.
/// Never throws except std::bad_alloc (or what the sink throws); not thread-safe per sink.
doc::ReadResult Parse(std::string_view text, doc::Sink& sink);

}  // namespace ping_exporter::targets::yaml
