#include "http/civetweb_tls_compat.h"

#include <elf.h>
#include <link.h>
#include <openssl/opensslv.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace ping_exporter::http::detail {
namespace {

// Mirrors CivetWeb 1.15's `struct ssl_func` (openssl_dl.inl): the lookup table entry.
struct CivetSslFunc {
  const char* name;
  int required;  // enum ssl_func_category; 0 = TLS_Mandatory
  void (*ptr)();
};

constexpr std::string_view kOldName = "SSL_get_peer_certificate";
constexpr std::string_view kPreviousName = "SSL_CTX_set_verify_depth";
constexpr std::string_view kNextName = "SSL_get_version";
// Static storage: CivetWeb keeps the pointer for the life of the process.
constexpr char kNewName[] = "SSL_get1_peer_certificate";

struct Segment {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  bool writable = false;
};

struct Library {
  bool found = false;
  std::vector<Segment> segments;
  uintptr_t relro_begin = 0;
  uintptr_t relro_end = 0;
};

int FindCivetWeb(dl_phdr_info* info, size_t /*size*/, void* data) {
  auto* lib = static_cast<Library*>(data);
  if (info->dlpi_name == nullptr || std::strstr(info->dlpi_name, "libcivetweb.so") == nullptr) {
    return 0;
  }
  lib->found = true;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_R) != 0) {
      lib->segments.push_back({begin, begin + ph.p_memsz, (ph.p_flags & PF_W) != 0});
    } else if (ph.p_type == PT_GNU_RELRO) {
      lib->relro_begin = begin;
      lib->relro_end = begin + ph.p_memsz;
    }
  }
  return 1;
}

// Whether `p` points at `text` followed by NUL, entirely inside one of the library's
// read-only segments (where CivetWeb's string literals live).
bool IsStringInReadOnly(const Library& lib, uintptr_t p, std::string_view text) {
  for (const Segment& s : lib.segments) {
    if (s.writable || p < s.begin || p + text.size() + 1 > s.end) continue;
    const char* c = reinterpret_cast<const char*>(p);
    return std::memcmp(c, text.data(), text.size()) == 0 && c[text.size()] == '\0';
  }
  return false;
}

uintptr_t ReadWord(uintptr_t address) {
  uintptr_t word = 0;
  std::memcpy(&word, reinterpret_cast<const void*>(address), sizeof word);
  return word;
}

}  // namespace

CivetTlsPatch PatchCivetWebForOpenSsl3() {
#if OPENSSL_VERSION_MAJOR < 3
  return CivetTlsPatch::kNotNeeded;
#else
  Library lib;
  dl_iterate_phdr(FindCivetWeb, &lib);
  if (!lib.found) return CivetTlsPatch::kNotFound;

  // Table entries that name the old function, checked against their neighbours.
  std::vector<uintptr_t> entries;
  bool mentions_old_name = false;
  constexpr uintptr_t kStride = sizeof(CivetSslFunc);
  for (const Segment& s : lib.segments) {
    if (!s.writable) continue;
    for (uintptr_t a = s.begin + kStride; a + 2 * kStride <= s.end; a += alignof(CivetSslFunc)) {
      if (!IsStringInReadOnly(lib, ReadWord(a), kOldName)) continue;
      mentions_old_name = true;
      CivetSslFunc entry{};
      std::memcpy(&entry, reinterpret_cast<const void*>(a), sizeof entry);
      if (entry.required == 0 && entry.ptr == nullptr &&
          IsStringInReadOnly(lib, ReadWord(a - kStride), kPreviousName) &&
          IsStringInReadOnly(lib, ReadWord(a + kStride), kNextName) &&
          !(a >= lib.relro_begin && a < lib.relro_end)) {
        entries.push_back(a);
      }
    }
  }
  if (!mentions_old_name) return CivetTlsPatch::kNotNeeded;
  if (entries.size() != 1) return CivetTlsPatch::kNotFound;
  const char* new_name = kNewName;
  std::memcpy(reinterpret_cast<void*>(entries.front()), &new_name, sizeof new_name);
  return CivetTlsPatch::kPatched;
#endif
}

}  // namespace ping_exporter::http::detail
