#pragma once
// Small text helpers shared by the modules that read operator or client input.

#include <cstddef>
#include <string>
#include <string_view>

namespace ping_exporter {

/// `s` without leading and trailing spaces and tabs (HTTP's OWS, flag lists).
std::string_view Trim(std::string_view s);

/// Whether `s` is well-formed UTF-8: no overlong forms, surrogates or code points above
/// U+10FFFF.
bool IsValidUtf8(std::string_view s);

/// How much of a piece of input error messages show.
inline constexpr size_t kMaxShownChars = 80;

/// Input made safe to show in a message or log line: '"' and '\' are escaped with a
/// backslash; control characters (C0, DEL, C1) and bytes that are not valid UTF-8 become
/// \xNN; at most kMaxShownChars characters (code points, or escaped bytes) are kept, followed
/// by "..." when some were cut. Printable ASCII and valid UTF-8 pass unchanged. Never throws
/// except std::bad_alloc.
std::string Escaped(std::string_view s);

/// Escaped(s) in double quotes, the way error messages quote what they were given:
/// Quote("a\"b") is "a\"b" with the quotes; Quote(50 MB) is 80 characters and "...".
std::string Quote(std::string_view s);

}  // namespace ping_exporter
