#!/usr/bin/env bash
# The test bed's stand-in for ZooKeeper's zkServer.sh: only what a container runs.
#   zkServer.sh start-foreground [zoo.cfg]   QuorumPeerMain in the foreground (exec: signals reach the JVM)
#   zkServer.sh print-cmd [zoo.cfg]          the java command line it would run
# Heap and flags as in ZooKeeper's own scripts: ZK_SERVER_HEAP (MB, default 1000), JVMFLAGS, SERVER_JVMFLAGS.
set -euo pipefail
home="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
conf_dir="${ZOO_CONF_DIR:-$home/conf}"
action="${1:-}"
config="${2:-$conf_dir/zoo.cfg}"

command=(java "-Xmx${ZK_SERVER_HEAP:-1000}m")
# JVMFLAGS and SERVER_JVMFLAGS are lists of flags: split on blanks on purpose.
# shellcheck disable=SC2206
command+=(${JVMFLAGS:-} ${SERVER_JVMFLAGS:-})
command+=("-Dzookeeper.log.dir=${ZOO_LOG_DIR:-$home/logs}")
if [ -f "$conf_dir/logback.xml" ]; then
  command+=("-Dlogback.configurationFile=$conf_dir/logback.xml")
fi
command+=(-cp "$home/lib/*:$conf_dir" org.apache.zookeeper.server.quorum.QuorumPeerMain "$config")

case "$action" in
  start-foreground)
    exec "${command[@]}"
    ;;
  print-cmd)
    echo "${command[*]}"
    ;;
  *)
    echo "usage: $0 start-foreground|print-cmd [zoo.cfg] (this image runs ZooKeeper in the foreground only)" >&2
    exit 2
    ;;
esac
