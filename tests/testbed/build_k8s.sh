#!/usr/bin/env bash
# Build the test bed's real Kubernetes control plane from the Go module proxy:
# kube-apiserver, kube-controller-manager, kube-scheduler (one pinned release),
# etcd and kwok; with --node also what a real node runs: kubelet and kube-proxy
# (the same release and wrapper module) and CoreDNS. Binaries are cached per
# version; a warm run only checks `--version` of each binary and exits, and a
# cold one builds only the binaries whose check fails.
#
# Usage: build_k8s.sh [--print-paths] [--node] [--check]
#   --print-paths  print "name=path" lines on stdout once the binaries exist
#                  (build output always goes to stderr).
#   --node         also kubelet, kube-proxy and CoreDNS (real_node.py).
#   --check        only the `--version` checks: exit 3 instead of building.
#
# Environment: PINOTOPS_TESTBED_CACHE (default ~/.cache/pinotops-testbed),
#              GO (default: go on PATH, else /usr/local/go/bin/go),
#              PINOTOPS_BUILD_PARALLEL (go build -p, default 2).
set -Eeuo pipefail

# Newest 1.34 patch that proxy.golang.org serves AND sum.golang.org can verify
# (v1.34.11/.12 are on the proxy but their checksum lookups return 404).
K8S_VERSION=v1.34.10
ETCD_VERSION=v3.6.16   # kubeadm/kwok pair 1.34 with etcd 3.6.x
KWOK_VERSION=v0.8.0    # ships the volume provisioner stages
COREDNS_VERSION=v1.12.4  # its go.mod pins client-go v0.34, the release's minor
# The CoreDNS plugins the test bed's Corefile uses; nothing else is linked in.
COREDNS_PLUGINS=(bind cache errors health kubernetes log ready reload)

CACHE=${PINOTOPS_TESTBED_CACHE:-$HOME/.cache/pinotops-testbed}
K8S_BIN=$CACHE/k8s/$K8S_VERSION/bin
ETCD_BIN=$CACHE/etcd/$ETCD_VERSION/bin
KWOK_BIN=$CACHE/kwok/$KWOK_VERSION/bin
COREDNS_BIN=$CACHE/coredns/$COREDNS_VERSION/bin
K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler)

print_paths=false node=false check=false
for arg in "$@"; do
  case "$arg" in
    --print-paths) print_paths=true ;;
    --node) node=true ;;
    --check) check=true ;;
    *) echo "usage: $0 [--print-paths] [--node] [--check]" >&2; exit 2 ;;
  esac
done
# kubelet and kube-proxy come from the same release and wrapper module.
$node && K8S_CMDS+=(kubelet kube-proxy)

log() { echo "build_k8s: $*" >&2; }
# Report once, from the main shell, not again from each command substitution.
trap '(( BASH_SUBSHELL > 0 )) || log "FAILED at line $LINENO: $BASH_COMMAND"' ERR

# version_is BIN PATTERN: BIN exists and the first line of `BIN --version` matches the glob PATTERN.
version_is() {
  [[ -x $1 ]] || return 1
  local out
  out=$("$1" --version 2>/dev/null) || return 1
  # shellcheck disable=SC2053  # $2 is a glob on purpose
  [[ ${out%%$'\n'*} == $2 ]]
}
k8s_cmd_ok() { version_is "$K8S_BIN/$1" "Kubernetes $K8S_VERSION"; }
# The kube commands whose `--version` check fails, one per line.
k8s_missing() {
  local c
  for c in "${K8S_CMDS[@]}"; do k8s_cmd_ok "$c" || echo "$c"; done
}
k8s_ok() { [[ -z $(k8s_missing) ]]; }
etcd_ok() { version_is "$ETCD_BIN/etcd" "etcd Version: ${ETCD_VERSION#v}"; }
kwok_ok() { version_is "$KWOK_BIN/kwok" "kwok version $KWOK_VERSION *"; }
# `coredns -version` prints "CoreDNS-1.12.4" and then the platform line.
coredns_ok() { $node || return 0; version_is "$COREDNS_BIN/coredns" "CoreDNS-${COREDNS_VERSION#v}"; }

# Warm path: run the `--version` checks concurrently (about 0.1s each).
all_ok() {
  local pids=() p rc=0 c
  for c in "${K8S_CMDS[@]}"; do
    (k8s_cmd_ok "$c" || exit 1) & pids+=($!)
  done
  (etcd_ok || exit 1) & pids+=($!)
  (kwok_ok || exit 1) & pids+=($!)
  (coredns_ok || exit 1) & pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}

emit_paths() {
  $print_paths || return 0
  local c
  for c in "${K8S_CMDS[@]}"; do echo "$c=$K8S_BIN/$c"; done
  echo "etcd=$ETCD_BIN/etcd"
  echo "kwok=$KWOK_BIN/kwok"
  echo "k8s_version=$K8S_VERSION"
  echo "etcd_version=$ETCD_VERSION"
  echo "kwok_version=$KWOK_VERSION"
  if $node; then
    echo "coredns=$COREDNS_BIN/coredns"
    echo "coredns_version=$COREDNS_VERSION"
  fi
}

if all_ok; then
  emit_paths
  exit 0
fi
$check && { log "binaries missing or of another version (not building: --check)"; exit 3; }

GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOMODCACHE=$CACHE/go/mod GOCACHE=$CACHE/go/build
export GOFLAGS=-mod=mod
PAR=${PINOTOPS_BUILD_PARALLEL:-2}
mkdir -p "$CACHE" "$GOMODCACHE" "$GOCACHE"

# One builder at a time; a second caller waits, then finds the binaries ready.
exec 9>"$CACHE/.build.lock"
flock 9

# Install a freshly built directory atomically so an interrupted build never
# leaves a half-written binary where the version check would find it.
install_dir() {
  local staged=$1 dest=$2
  rm -rf "$dest.old"
  [[ -e $dest ]] && mv "$dest" "$dest.old"
  mv "$staged" "$dest"
  rm -rf "$dest.old"
}

# Move each freshly built file of a directory into place (one rename each),
# leaving the other binaries of `dest` alone: a running kube-apiserver keeps
# its path, so pid checks against the recorded binary still hold.
install_files() {
  local staged=$1 dest=$2 f
  mkdir -p "$dest"
  for f in "$staged"/*; do mv -f "$f" "$dest/"; done
  rmdir "$staged"
}

build_k8s() {
  local v=$K8S_VERSION staging_v="v0.${K8S_VERSION#v1.}"
  local wd=$CACHE/k8s-build/$v
  local cmds
  mapfile -t cmds < <(k8s_missing)
  log "building Kubernetes $v (${cmds[*]}) in $wd"
  mkdir -p "$wd"
  cd "$wd"

  # The release's go.mod requires staging modules at v0.0.0 and replaces them
  # with local dirs, which a dependent module cannot see; pin each one to its
  # published v0.X.Y tag instead, and keep the release's go/godebug lines
  # because those only take effect in the main module.
  local dl gomod meta commit date major minor
  # go mod download reports failures inside its JSON, not on stderr.
  dl=$("$GO" mod download -json "k8s.io/kubernetes@$v" || true)
  gomod=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$dl")
  if [[ ! -f $gomod ]]; then
    log "go mod download k8s.io/kubernetes@$v failed: $(sed -n 's/^[[:space:]]*"Error": //p' <<<"$dl")"
    return 1
  fi
  meta=$("$GO" list -m -f '{{with .Origin}}{{.Hash}}{{end}} {{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "k8s.io/kubernetes@$v")
  commit=${meta% *}
  date=${meta#* }
  {
    echo "module pinotops.test/k8s-build"
    echo
    grep -E '^(go|godebug) ' "$gomod"
    echo
    echo "require k8s.io/kubernetes $v"
    echo
    echo "replace ("
    awk -v sv="$staging_v" '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" && NF == 2 {print "\t" $1 " => " $1 " " sv}' "$gomod" | sort -u
    echo ")"
  } >go.mod.new
  mv go.mod.new go.mod
  rm -f go.sum

  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  local ld="" pkg key val
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    for key in gitVersion=$v gitMajor=$major gitMinor=$minor gitCommit=$commit gitTreeState=clean buildDate=$date; do
      val=${key#*=}; key=${key%%=*}
      ld+=" -X '$pkg.$key=$val'"
    done
  done

  local out=$CACHE/k8s/$v/bin.partial
  rm -rf "$out"
  mkdir -p "$out"
  local pkgs=() c
  # Only what is missing: the binaries already in place are not rebuilt.
  for c in "${cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  # Same tags and flags as hack/lib/golang.sh uses for release server binaries.
  "$GO" build -p "$PAR" -trimpath -tags notest,selinux,grpcnotrace \
    -ldflags "all=$ld -s -w" -o "$out/" "${pkgs[@]}"
  install_files "$out" "$K8S_BIN"
}

build_etcd() {
  local v=$ETCD_VERSION wd=$CACHE/etcd-build/$ETCD_VERSION
  log "building etcd $v in $wd"
  mkdir -p "$wd"
  cd "$wd"
  local commit ld="-s -w"
  # The proxy does not always record the tag's commit; stamp it when it does.
  commit=$("$GO" list -m -f '{{with .Origin}}{{.Hash}}{{end}}' "go.etcd.io/etcd/server/v3@$v")
  [[ -z $commit ]] || ld+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=${commit:0:10}"
  # server/v3's own go.mod replaces its siblings with local dirs, so it can
  # only be built as a dependency of a wrapper module.
  printf 'module pinotops.test/etcd-build\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$v" >go.mod
  rm -f go.sum
  local out=$CACHE/etcd/$v/bin.partial
  rm -rf "$out"
  mkdir -p "$out"
  "$GO" build -p "$PAR" -trimpath -ldflags "$ld" -o "$out/etcd" go.etcd.io/etcd/server/v3
  install_dir "$out" "$ETCD_BIN"
}

build_kwok() {
  local v=$KWOK_VERSION
  log "building kwok $v"
  local out=$CACHE/kwok/$v/bin.partial
  rm -rf "$out"
  mkdir -p "$out"
  # kwok's go.mod has no replace directives, so `go install mod@version`
  # builds it exactly as released (its version is a compiled-in constant).
  GOFLAGS= GOBIN=$out "$GO" install -p "$PAR" -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$v"
  install_dir "$out" "$KWOK_BIN"
}

build_coredns() {
  local v=$COREDNS_VERSION wd=$CACHE/coredns-build/$COREDNS_VERSION
  log "building CoreDNS $v (plugins: ${COREDNS_PLUGINS[*]}) in $wd"
  mkdir -p "$wd"
  cd "$wd"
  local commit ld="-s -w" p
  commit=$("$GO" list -m -f '{{with .Origin}}{{.Hash}}{{end}}' "github.com/coredns/coredns@$v")
  [[ -z $commit ]] || ld+=" -X github.com/coredns/coredns/coremain.GitCommit=${commit:0:7}"
  # A main package of our own: coremain plus the chosen plugins. Directives
  # keep CoreDNS's own order (dnsserver.Directives); the ones not linked in
  # are simply absent, and a Corefile naming one fails to load.
  printf 'module pinotops.test/coredns-build\n\ngo 1.24.0\n\nrequire github.com/coredns/coredns %s\n' "$v" >go.mod
  rm -f go.sum
  {
    echo "// Generated by build_k8s.sh: CoreDNS with only the test bed's plugins."
    echo "package main"
    echo
    echo "import ("
    echo "	\"github.com/coredns/coredns/coremain\""
    echo
    for p in "${COREDNS_PLUGINS[@]}"; do echo "	_ \"github.com/coredns/coredns/plugin/$p\""; done
    echo ")"
    echo
    echo "func main() { coremain.Run() }"
  } >main.go
  local out=$CACHE/coredns/$v/bin.partial
  rm -rf "$out"
  mkdir -p "$out"
  "$GO" build -p "$PAR" -trimpath -ldflags "$ld" -o "$out/coredns" .
  install_dir "$out" "$COREDNS_BIN"
}

start=$SECONDS
etcd_ok || build_etcd
kwok_ok || build_kwok
k8s_ok || build_k8s
coredns_ok || build_coredns
k8s_ok || { log "kube binaries built but '--version' is not 'Kubernetes $K8S_VERSION': $(k8s_missing | xargs)"; exit 1; }
etcd_ok || { log "etcd built but '--version' does not report ${ETCD_VERSION#v}"; exit 1; }
kwok_ok || { log "kwok built but '--version' does not report $KWOK_VERSION"; exit 1; }
coredns_ok || { log "CoreDNS built but '-version' does not report ${COREDNS_VERSION#v}"; exit 1; }
log "done in $((SECONDS - start))s"
emit_paths
