# syntax=docker/dockerfile:1
# flameshot-node's image: flameshotd and async-profiler, for linux/amd64 and
# linux/arm64:
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/flameshot-node:0.1.0 .
#
# Not built by the project's CI (no container engine nor registry there);
# see README "Install on Kubernetes".

# --- build: Debian 12 with the -dev packages of tools/deps.sh ---------------
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      make gcc clang llvm bpftool pkg-config \
      libbpf-dev libelf-dev zlib1g-dev libcurl4-openssl-dev libcjson-dev \
      libmicrohttpd-dev libpcre2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# the Makefile picks vmlinux/x86 or vmlinux/arm64 from the build machine:
# build each platform natively (buildx runs the arm64 stage under emulation
# or on an arm64 builder)
RUN make -j"$(nproc)" && strip build/bin/flameshotd build/libexec/flameshot/flameshotd

# --- async-profiler: the official release archive, pinned -----------------
FROM debian:12 AS asprof
ARG TARGETARCH
ARG ASYNC_PROFILER_VERSION=4.5
# sha256 of async-profiler-<version>-linux-x64.tar.gz and -linux-arm64.tar.gz
# as published with the release; change them together with the version
ARG ASYNC_PROFILER_SHA256_AMD64=89546fbb9ee0fc5496c7edd4099b0709489bc78b0d8057ccbb4b801f6b032b62
ARG ASYNC_PROFILER_SHA256_ARM64=64c41d1465d60097439c50d7e924b4946f1f62b1cbd21ce5b034fad09c0d6979
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN set -eu; \
    case "$TARGETARCH" in \
      amd64) arch=x64;   sum=$ASYNC_PROFILER_SHA256_AMD64 ;; \
      arm64) arch=arm64; sum=$ASYNC_PROFILER_SHA256_ARM64 ;; \
      *) echo "unsupported TARGETARCH '$TARGETARCH' (amd64, arm64)" >&2; exit 1 ;; \
    esac; \
    name=async-profiler-$ASYNC_PROFILER_VERSION-linux-$arch.tar.gz; \
    curl -fsSL -o "/tmp/$name" \
      "https://github.com/async-profiler/async-profiler/releases/download/v$ASYNC_PROFILER_VERSION/$name"; \
    echo "$sum  /tmp/$name" | sha256sum -c -; \
    mkdir -p /opt/async-profiler; \
    tar -xzf "/tmp/$name" -C /opt/async-profiler --strip-components=1; \
    test -f /opt/async-profiler/lib/libasyncProfiler.so

# --- runtime: the shared libraries flameshotd links, nothing else ---------
# (the full program's: the lean entry needs libc only)
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libbpf1 libelf1 zlib1g libcurl4 libcjson1 libmicrohttpd12 libpcre2-8-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# two files: the lean entry (libc only: --help, --version, jcmd) and the
# full program it execs for everything else, found as ../libexec/flameshot
# beside its own directory (README "Layout: two files")
COPY --from=build /src/build/bin/flameshotd /usr/bin/flameshotd
COPY --from=build /src/build/libexec/flameshot/flameshotd /usr/libexec/flameshot/flameshotd
# FLAMESHOT_ASYNC_PROFILER_PATH's default
COPY --from=asprof /opt/async-profiler /opt/async-profiler
ENV FLAMESHOT_ASYNC_PROFILER_PATH=/opt/async-profiler
# root: the agent enters other users' containers and loads BPF programs; the
# chart drops every capability it does not use. Exec form: no shell runs.
USER 0:0
ENTRYPOINT ["/usr/bin/flameshotd"]
