#pragma once
// Small text helpers shared by the modules that read operator or client input.

#include <cstddef>
#include <optional>
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
/// by "..." when some were cut. Printable ASCII and valid UTF-8 pass unchanged. `max_chars`
/// overrides the cap for text that is not input, such as a library's message about it. Never
/// throws except std::bad_alloc.
std::string Escaped(std::string_view s, size_t max_chars = kMaxShownChars);

/// Escaped(s) in double quotes, the way error messages quote what they were given:
/// Quote("a\"b") is "a\"b" with the quotes; Quote(50 MB) is 80 characters and "...".
std::string Quote(std::string_view s);

/// The first thing in `s` that no host, label name or label value may hold, because /metrics,
/// logs and the status page show them: a NUL byte, another control character (C0, DEL, C1) or
/// bytes that are not valid UTF-8, as "NUL byte at offset 10", "control character \x0a at
/// offset 3" or "invalid UTF-8 at offset 11" (byte offsets from 0); nullopt when `s` is
/// printable UTF-8 throughout. Linear; never throws except std::bad_alloc.
std::optional<std::string> UnprintableReason(std::string_view s);

}  // namespace ping_exporter
