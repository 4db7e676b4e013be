#!/usr/bin/env bash
# Runs a command with a private name service, so no lookup a test makes can reach
# the machine's nameserver. In a new mount namespace (needs root):
#   /etc/hosts          only the localhost entries (127.0.0.1 and ::1);
#   /etc/nsswitch.conf  hosts from files, then dns (no mDNS or other plugins);
#   /etc/resolv.conf    one nameserver on a loopback address where nothing listens, so
#                       a lookup of any other name fails at once (port unreachable)
#                       and no DNS packet leaves the machine.
# Network namespaces the command creates inherit these files (ip netns exec does).
# Usage: tools/private_resolver.sh COMMAND [ARGS...]
set -euo pipefail

# A loopback address no test binds; refused below if a DNS server answers there.
readonly NAMESERVER=127.53.0.1

if (($# == 0)); then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

if [[ "$1" != "--inside" ]]; then
  # The mount namespace is private (no propagation), so nothing below shows outside
  # it and it goes away with the command.
  exec unshare --mount --propagation private "$0" --inside "$@"
fi
shift

if ss -Hlun "( sport = :53 )" | awk '{print $4}' |
  grep -qE "^(${NAMESERVER//./\\.}|0\.0\.0\.0|\*|\[::\]):53$"; then
  echo "$0: a DNS server listens on ${NAMESERVER}:53; the private resolver needs it free" >&2
  exit 2
fi

dir="$(mktemp -d /tmp/pe-resolver.XXXXXX)"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/hosts"
printf 'hosts: files dns\n' >"$dir/nsswitch.conf"
printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$NAMESERVER" >"$dir/resolv.conf"
chmod 0755 "$dir"
chmod 0644 "$dir"/*
for f in hosts nsswitch.conf resolv.conf; do
  # A symlinked file (e.g. systemd-resolved's resolv.conf) is covered where it points.
  target="$(readlink -f "/etc/$f")"
  if [[ ! -e "$target" ]]; then
    echo "$0: /etc/$f points at a missing file ($target)" >&2
    exit 2
  fi
  mount --bind "$dir/$f" "$target"
done
# The files stay linked while the command runs: the kernel refuses to mount over an
# unlinked file, and `ip netns exec` binds /etc/netns/NS/hosts over /etc/hosts.
trap 'rm -rf "$dir"' EXIT
"$@"
