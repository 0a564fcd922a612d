#!/usr/bin/env bash
# The test bed's stand-in for the apachepinot/pinot image's launcher: PinotAdministrator on the lib dir.
# The --add-opens/--add-exports are the JDK 17 ones tests/testbed/pinot.py's JVM_FLAGS uses (Pinot's own launcher
# passes them too). A failing admin command exits non-zero instead of leaving a JVM behind. JAVA_OPTS comes after
# the fixed flags, so a pod's -D settings win.
set -eu
home="${PINOT_HOME:-/opt/pinot}"
# As Pinot's own launcher: every plugin jar under plugins/ joins the classpath (the PluginManager also reads the
# directory, from -Dplugins.dir).
classpath="$home/lib/*"
while IFS= read -r dir; do
  classpath="$classpath:$dir/*"
done < <(find "$home/plugins" -name '*.jar' -printf '%h\n' 2>/dev/null | sort -u)
# JAVA_OPTS is a list of flags: split on blanks on purpose.
# shellcheck disable=SC2086
exec java \
  --add-opens=java.base/java.nio=ALL-UNNAMED \
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
  --add-opens=java.base/java.lang=ALL-UNNAMED \
  --add-opens=java.base/java.util=ALL-UNNAMED \
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED \
  --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED \
  -Dpinot.admin.system.exit=true \
  ${JAVA_OPTS:-} \
  -cp "$classpath" org.apache.pinot.tools.admin.PinotAdministrator "$@"
