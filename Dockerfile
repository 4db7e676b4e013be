# ping_exporter container image.
#
#   docker build -t ping-exporter .
#   docker run --rm -p 9823:9823 ping-exporter          # pings 127.0.0.1 and ::1
#   docker run --rm -p 9823:9823 -v $PWD/my.toml:/etc/ping-exporter/config.toml:ro \
#     ping-exporter --config.file=/etc/ping-exporter/config.toml
#
# The binary carries the NET_RAW file capability, so it can open raw ICMP sockets while
# running as nobody; where net.ipv4.ping_group_range allows it, it uses unprivileged
# datagram ICMP sockets instead and needs no capability at all.

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates cmake g++ git make pkg-config \
      prometheus-cpp-dev libcivetweb-dev libtomlplusplus-dev libcli11-dev \
      libyaml-cpp-dev libyaml-dev zlib1g-dev libssl-dev libcrypt-dev libc-ares-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DPING_EXPORTER_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" --target ping_exporter \
 && strip /build/ping_exporter

FROM debian:bookworm-slim
# Runtime libraries of the binary (the ecosystem tests compare this list with its ldd), and
# libcap2-bin for setcap, removed again below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libprometheus-cpp-core1.0 libcivetweb1 libtomlplusplus3 libyaml-cpp0.7 libyaml-0-2 \
      zlib1g libssl3 libcrypt1 libc-ares2 libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/ping_exporter /usr/local/bin/ping_exporter
# CivetWeb loads libssl/libcrypto by their unversioned names for TLS (--web.config.file); link
# them instead of installing libssl-dev. Then grant raw ICMP sockets to the binary only.
RUN for lib in libssl libcrypto; do \
      so="$(find /usr/lib -name "$lib.so.3" | head -n 1)"; \
      ln -s "$so" "${so%.3}"; \
    done \
 && setcap cap_net_raw=+ep /usr/local/bin/ping_exporter \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y \
 && mkdir -p /etc/ping-exporter
USER 65534:65534
EXPOSE 9823
ENTRYPOINT ["/usr/local/bin/ping_exporter"]
