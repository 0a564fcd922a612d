#!/usr/bin/env bash
# What `make demo` and `make test` need beside the Python packages, checked up front instead of failing deep in
# the build (well under a second when everything is there): Python 3.11+ with venv (until .venv exists), a JDK 17+
# (the `java` on PATH runs Pinot, Maven compiles with it), Maven, gcc with a static libc (the real node's small
# images), openssl (the control plane's certificates), iproute2 and util-linux (the real node's links and
# namespaces), git (`make sanity`), Go 1.26+ (only while `build_k8s.sh --check` finds a Kubernetes binary missing:
# it builds them with GOTOOLCHAIN=local; Debian's golang is older), the Pinot source tarballs of
# ../shared/pinot-source (only while no Pinot version is cached), root, and apt-get: the test bed installs the real
# node's own Debian packages itself (real_node.ensure_node_packages, images.ensure_image_tools). As root where
# apt-get exists, the missing Debian packages are installed here; otherwise one message lists what to install.
# Run by `make prerequisites` from the checkout's root, with PYTHON, VENV_BIN and PINOTOPS_TESTBED_CACHE set.
set -euo pipefail
ROOT=$(pwd)
check() {
  problems=() packages=()
  need() { problems+=("$1"); shift; packages+=("$@"); }
  if ! $VENV_BIN/python -c '' 2>/dev/null; then
    py=""
    for cand in $PYTHON python3; do
      if $cand -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        py=$cand; break
      fi
    done
    [ -n "$py" ] || need "Python 3.11 or newer with its venv module, as $PYTHON or python3 (or set PYTHON=)" \
      python3 python3-venv
  fi
  java=$(command -v java || true) jdk="" major=""
  if [ -n "$java" ]; then
    jdk=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$java")")")}
    major=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$jdk/release" 2>/dev/null || true)
    [ -n "$major" ] || major=$("$java" -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p')
  fi
  if [ "${major:-0}" -lt 17 ] || [ ! -x "$jdk/bin/javac" ]; then
    found="no java on PATH"
    [ -z "$java" ] || found="Java ${major:-of unknown version} in $jdk, $([ -x "$jdk/bin/javac" ] && echo with || echo without) javac"
    need "a JDK 17 or newer, java on PATH and javac beside it (found: $found)" openjdk-17-jdk-headless
  fi
  command -v mvn >/dev/null || need "Maven (mvn)" maven
  if ! command -v gcc >/dev/null || [ "$(gcc -print-file-name=libc.a)" = libc.a ]; then
    need "gcc with a static libc (gcc -static)" gcc libc6-dev
  fi
  command -v openssl >/dev/null || need "openssl" openssl
  PATH=$PATH:/usr/sbin:/sbin command -v ip >/dev/null || need "ip" iproute2
  { command -v flock && command -v nsenter; } >/dev/null || need "flock and nsenter" util-linux
  command -v git >/dev/null || need "git" git
  go=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
  gover=$("$go" env GOVERSION 2>/dev/null || true)
  gover=${gover#go}
  if [ "$(printf '%s\n' 1.26 "${gover:-0}" | sort -V | head -n 1)" != 1.26 ] \
     && ! bash tests/testbed/build_k8s.sh --node --check >/dev/null 2>&1; then
    need "Go 1.26 or newer to build the Kubernetes binaries (found: ${gover:-no $go}), not from apt (Debian's golang is older): the Go release of https://go.dev/doc/install in /usr/local/go, or on PATH, or GO=/path/to/go"
  fi
  src=${PINOTOPS_PINOT_SOURCE:-$ROOT/../shared/pinot-source}
  if ! compgen -G "$src/apache-pinot-*-src-subset.tar.gz" >/dev/null \
     && ! compgen -G "$PINOTOPS_TESTBED_CACHE/pinot/*/complete.json" >/dev/null; then
    need "the Apache Pinot source tarballs in $src (shared/ beside the checkout: ../shared/README.md; or set PINOTOPS_PINOT_SOURCE=)"
  fi
  [ "$(id -u)" = 0 ] || need "root: the real node runs a kubelet, containerd and network namespaces (sudo make ...)"
  { command -v apt-get && command -v dpkg-query; } >/dev/null \
    || need "Debian or Ubuntu (apt-get, dpkg-query): the test bed installs the real node's packages with apt"
}
check
if (( ${#packages[@]} )) && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log=$PINOTOPS_TESTBED_CACHE/prerequisites-apt.log
  mkdir -p "$PINOTOPS_TESTBED_CACHE"
  apt=(apt-get -q -o DPkg::Lock::Timeout=600)
  echo "prerequisites: installing with apt-get: ${packages[*]} (log: $log)"
  "${apt[@]}" update >"$log" 2>&1 || { tail -n 20 "$log" >&2; echo "prerequisites: apt-get update failed" >&2; exit 1; }
  jdk17=$(apt-cache policy openjdk-17-jdk-headless | sed -n 's/^ *Candidate: //p')
  if [ -z "$jdk17" ] || [ "$jdk17" = "(none)" ]; then  # Debian 13 and later: the default JDK is newer
    packages=("${packages[@]/#openjdk-17-jdk-headless/default-jdk-headless}")
  fi
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${packages[@]}" >>"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; echo "prerequisites: apt-get install ${packages[*]} failed" >&2; exit 1; }
  hash -r
  check
fi
if (( ${#problems[@]} )); then
  echo "prerequisites: make demo and make test need what is missing here:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  if (( ${#packages[@]} )); then echo "  as root on Debian/Ubuntu: apt-get install ${packages[*]}" >&2; fi
  exit 1
fi
echo "prerequisites: all there (JDK $major, Go ${gover:-not needed: the Kubernetes binaries are cached})"

