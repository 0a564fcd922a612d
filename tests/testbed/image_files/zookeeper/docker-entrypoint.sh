#!/usr/bin/env bash
# The test bed's stand-in for the official zookeeper image's entrypoint, written from its documented environment:
#   ZOO_CONF_DIR/zoo.cfg from ZOO_* variables unless one is already there (a mounted config wins),
#   ZOO_DATA_DIR/myid from ZOO_MY_ID unless it exists (the id must not change under existing data),
#   then the command; zkServer.sh runs as the zookeeper user when the container starts as root.
set -euo pipefail

: "${ZOO_CONF_DIR:=/conf}" "${ZOO_DATA_DIR:=/data}" "${ZOO_DATA_LOG_DIR:=/datalog}" "${ZOO_LOG_DIR:=/logs}"
: "${ZOO_TICK_TIME:=2000}" "${ZOO_INIT_LIMIT:=5}" "${ZOO_SYNC_LIMIT:=2}" "${ZOO_MAX_CLIENT_CNXNS:=60}"
: "${ZOO_AUTOPURGE_PURGEINTERVAL:=0}" "${ZOO_AUTOPURGE_SNAPRETAINCOUNT:=3}"
: "${ZOO_STANDALONE_ENABLED:=true}" "${ZOO_ADMINSERVER_ENABLED:=true}"
# Not part of the official contract: lets a test run this script as root on a host without that user.
: "${ZOO_USER:=zookeeper}"
export ZOO_CONF_DIR ZOO_DATA_DIR ZOO_DATA_LOG_DIR ZOO_LOG_DIR

mkdir -p "$ZOO_CONF_DIR" "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR"

write_config() {
  local servers extra entry
  # Blank-separated lists; no entry contains a blank, and none is a glob.
  read -r -a servers <<<"${ZOO_SERVERS:-}"
  read -r -a extra <<<"${ZOO_CFG_EXTRA:-}"
  printf '%s\n' \
    "dataDir=$ZOO_DATA_DIR" \
    "dataLogDir=$ZOO_DATA_LOG_DIR" \
    "tickTime=$ZOO_TICK_TIME" \
    "initLimit=$ZOO_INIT_LIMIT" \
    "syncLimit=$ZOO_SYNC_LIMIT" \
    "maxClientCnxns=$ZOO_MAX_CLIENT_CNXNS" \
    "autopurge.purgeInterval=$ZOO_AUTOPURGE_PURGEINTERVAL" \
    "autopurge.snapRetainCount=$ZOO_AUTOPURGE_SNAPRETAINCOUNT" \
    "standaloneEnabled=$ZOO_STANDALONE_ENABLED" \
    "admin.enableServer=$ZOO_ADMINSERVER_ENABLED"
  if [ -n "${ZOO_4LW_COMMANDS_WHITELIST:-}" ]; then
    echo "4lw.commands.whitelist=$ZOO_4LW_COMMANDS_WHITELIST"
  fi
  for entry in "${extra[@]}"; do
    echo "$entry"
  done
  # Without ZOO_SERVERS: one server, which standaloneEnabled=true runs standalone on port 2181.
  if [ "${#servers[@]}" -eq 0 ]; then
    servers=("server.1=localhost:2888:3888;2181")
  fi
  for entry in "${servers[@]}"; do
    echo "$entry"
  done
}

config="$ZOO_CONF_DIR/zoo.cfg"
if [ ! -f "$config" ]; then
  write_config >"$config.tmp"
  mv "$config.tmp" "$config"
fi
if [ ! -f "$ZOO_DATA_DIR/myid" ]; then
  echo "${ZOO_MY_ID:-1}" >"$ZOO_DATA_DIR/myid"
fi

if [ "${1:-}" = zkServer.sh ] && [ "$(id -u)" = 0 ] && id -u "$ZOO_USER" >/dev/null 2>&1; then
  # A fresh volume (hostPath, emptyDir) belongs to root: hand what the server writes to its user.
  find "$ZOO_DATA_DIR" "$ZOO_DATA_LOG_DIR" "$ZOO_LOG_DIR" \! -user "$ZOO_USER" -exec chown "$ZOO_USER:" {} +
  exec setpriv --reuid="$ZOO_USER" --regid="$ZOO_USER" --init-groups "$@"
fi
exec "$@"
