#pragma once
// Internal: lets Debian 12's CivetWeb 1.15 use OpenSSL 3.
//
// That build loads libssl.so at run time and looks up its functions by name using
// the OpenSSL 1.1 list, which includes SSL_get_peer_certificate. OpenSSL 3 only has
// it as a macro for SSL_get1_peer_certificate (same contract: returns a new
// reference), so the lookup fails and CivetWeb refuses every TLS port (upstream
// issue civetweb/civetweb#1334). The fix renames that one entry of CivetWeb's
// lookup table before CivetWeb first loads OpenSSL.

#include <string>

namespace ping_exporter::http::detail {

/// Outcome of PatchCivetWebForOpenSsl3, for the debug log.
enum class CivetTlsPatch {
  kNotNeeded,  ///< OpenSSL < 3, or CivetWeb's table does not name the old function
  kPatched,    ///< the table entry now names SSL_get1_peer_certificate
  kNotFound,   ///< the table could not be located unambiguously; nothing was changed
};

/// Must run before the first mg_init_library(MG_FEATURES_TLS) or mg_start in the
/// process (CivetWeb never retries a failed OpenSSL load correctly). Not
/// thread-safe: call once, e.g. from a function-local static initializer. Changes
/// memory only after every check passes: the old name is referenced exactly once
/// from CivetWeb's writable data, by a table entry whose neighbours name the
/// functions that precede and follow it in CivetWeb 1.15.
CivetTlsPatch PatchCivetWebForOpenSsl3();

}  // namespace ping_exporter::http::detail
