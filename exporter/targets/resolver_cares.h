#pragma once
// The production NameLookup: c-ares, many lookups in flight on a few sockets, no thread each.

#include <memory>

#include "targets/resolver_service.h"

namespace ping_exporter::targets {

/// A NameLookup over c-ares. It reads the system's resolver configuration the way c-ares
/// does: /etc/resolv.conf (nameservers, search, ndots), /etc/hosts (re-read on each lookup)
/// and the files/dns order of /etc/nsswitch.conf; other NSS sources (mDNS, LDAP) are not
/// consulted. Addresses come in RFC 6724 order (c-ares sorts them by the routes to each; it
/// does not read /etc/gai.conf). Each nameserver is asked once and gets the lookup's whole
/// timeout, so a dead server fails a lookup after `timeout`, with two servers after up to
/// twice that. One channel per distinct timeout is opened when needed and closed when idle,
/// so resolv.conf is read afresh for each burst of lookups.
/// A channel that cannot be set up fails its lookups with the reason. Without an eventfd (the
/// fd limit reached) Wake() is noticed within 100 ms instead of at once. Never throws except
/// std::bad_alloc.
std::unique_ptr<NameLookup> MakeCaresLookup();

}  // namespace ping_exporter::targets
