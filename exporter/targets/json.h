#pragma once
// A small strict JSON (RFC 8259) reader for file_sd files: exact line:column in errors, linear
// time, and no tree: values go to a doc::Sink as they are read.

#include <string_view>

#include "targets/doc_events.h"

namespace ping_exporter::targets::json {

/// Reads one JSON document (a leading UTF-8 byte order mark is skipped) into `sink`; object
/// keys come as kString scalars. Strings must be valid UTF-8; nesting deeper than 64 levels is
/// refused. Not thread-safe per sink; never throws except std::bad_alloc (or what the sink
/// throws).
doc::ReadResult Parse(std::string_view text, doc::Sink& sink);

}  // namespace ping_exporter::targets::json
