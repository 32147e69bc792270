#!/usr/bin/env bash
# Local infrastructure without Docker: single-node Kafka (KRaft) + FerretDB (MongoDB wire, SQLite).
#
#   deploy/local/infra.sh up     [kafka|ferretdb]...   install what is missing, start what is not running, wait until ready
#   deploy/local/infra.sh down   [kafka|ferretdb]...   SIGTERM, wait (STOP_TIMEOUT, default 30 s), then SIGKILL
#   deploy/local/infra.sh kill   [kafka|ferretdb]...   SIGKILL at once (crash simulation for fault tests)
#   deploy/local/infra.sh restart [kafka|ferretdb]...  down + up
#   deploy/local/infra.sh status [kafka|ferretdb]...   print what runs; exit 0 if all given services run, else 3
#   deploy/local/infra.sh wait   [kafka|ferretdb]...   readiness check of running services (no start)
#   deploy/local/infra.sh env                          print the env file (.infra/env)
#   deploy/local/infra.sh kafka-tool TOOL [args]...    run a Kafka CLI tool from the same jars, e.g.
#                                                      kafka-tool topics --bootstrap-server 127.0.0.1:19092 --list
# No service argument = both. "mongo" is an alias of "ferretdb".
#
# Everything lives under <repo>/.infra/ (gitignored). Servers listen on 127.0.0.1 only.
# Environment knobs (defaults): KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1),
# KAFKA_VERSION (pom default), KAFKA_HEAP_OPTS (-Xms128m -Xmx512m), KAFKA_READY_TIMEOUT (90),
# FERRETDB_PORT (27018), FERRETDB_DEBUG_ADDR (- = disabled), FERRETDB_VERSION (v1.24.2),
# FERRETDB_READY_TIMEOUT (60), STOP_TIMEOUT (30), PYTHON (.venv/bin/python, needs aiokafka + pymongo),
# JAVA (java), MVN (mvn), GO (go).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
cd "$ROOT"
INFRA="$ROOT/.infra"
BIN="$INFRA/bin"

KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
KAFKA_READY_TIMEOUT=${KAFKA_READY_TIMEOUT:-90}
KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
KAFKA_VERSION=${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM" | head -n1)}
KAFKA_DIR="$INFRA/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_CONF="$KAFKA_DIR/server.properties"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_LOG="$KAFKA_DIR/kafka.log"
KAFKA_PID="$KAFKA_DIR/kafka.pid"

FERRETDB_VERSION=${FERRETDB_VERSION:-v1.24.2}
FERRETDB_PORT=${FERRETDB_PORT:-27018}
FERRETDB_DEBUG_ADDR=${FERRETDB_DEBUG_ADDR:--}
FERRETDB_READY_TIMEOUT=${FERRETDB_READY_TIMEOUT:-60}
FERRETDB_DIR="$INFRA/ferretdb"
FERRETDB_BIN="$BIN/ferretdb"
FERRETDB_DATA="$FERRETDB_DIR/data"
FERRETDB_LOG="$FERRETDB_DIR/ferretdb.log"
FERRETDB_PID="$FERRETDB_DIR/ferretdb.pid"

STOP_TIMEOUT=${STOP_TIMEOUT:-30}
PYTHON=${PYTHON:-.venv/bin/python}
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}
GO=${GO:-go}

KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
MONGO_URI="mongodb://127.0.0.1:$FERRETDB_PORT/"

# ---------------------------------------------------------------------------------------------
log() { printf '[infra] %s\n' "$*"; }
err() { printf '[infra] ERROR: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found in PATH ($2)"; }
now() { date +%s; }

# port_open PORT -> 0 if something accepts TCP connections on 127.0.0.1:PORT
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# port_owner PORT -> pid of the process listening on PORT (empty if unknown)
port_owner() {
  ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true
}

cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# alive = exists and is not a zombie (a zombie would otherwise make `down` wait for nothing)
pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  local st
  st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null || true)
  [[ "$st" != Z ]]
}

# marker that identifies our process of a service in /proc/PID/cmdline
marker() {
  case "$1" in
    kafka) echo "$KAFKA_CONF" ;;
    ferretdb) echo "$FERRETDB_BIN " ;;
  esac
}
pidfile() { case "$1" in kafka) echo "$KAFKA_PID" ;; ferretdb) echo "$FERRETDB_PID" ;; esac; }
logfile() { case "$1" in kafka) echo "$KAFKA_LOG" ;; ferretdb) echo "$FERRETDB_LOG" ;; esac; }
ports() { case "$1" in kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;; ferretdb) echo "$FERRETDB_PORT" ;; esac; }

is_ours() { # is_ours SERVICE PID
  pid_alive "$2" && [[ "$(cmdline "$2")" == *"$(marker "$1")"* ]]
}

# service_pid SERVICE -> pid of our running server, from the pid file or (adopted) from the port
service_pid() {
  local svc=$1 pf pid p
  pf=$(pidfile "$svc")
  pid=$(cat "$pf" 2>/dev/null || true)
  if is_ours "$svc" "$pid"; then
    echo "$pid"
    return 0
  fi
  for p in $(ports "$svc"); do
    pid=$(port_owner "$p")
    if [[ -n "$pid" ]] && is_ours "$svc" "$pid"; then
      echo "$pid" >"$pf"
      echo "$pid"
      return 0
    fi
  done
  rm -f "$pf"
  return 0
}

# running_port SERVICE PID -> the client port the running server was started with
running_port() {
  case "$1" in
    kafka) sed -n 's|^advertised.listeners=PLAINTEXT://127.0.0.1:\([0-9]*\)$|\1|p' "$KAFKA_CONF" 2>/dev/null ;;
    ferretdb) cmdline "$2" | grep -o -- '--listen-addr=127.0.0.1:[0-9]*' | cut -d: -f2 ;;
  esac
}

# the running server must use the port this invocation was asked for (KAFKA_PORT / FERRETDB_PORT)
check_running_port() {
  local svc=$1 pid=$2 want have
  want=$(ports "$svc" | cut -d' ' -f1)
  have=$(running_port "$svc" "$pid")
  [[ -z "$have" || "$have" == "$want" ]] ||
    die "$svc: already running (pid $pid) on port $have, but port $want was asked for; run 'infra.sh down $svc' first or use the same port"
}

check_ports_free() {
  local svc=$1 p owner
  for p in $(ports "$svc"); do
    if port_open "$p"; then
      owner=$(port_owner "$p")
      die "$svc: port 127.0.0.1:$p is already in use by ${owner:+pid $owner: }$(if [[ -n "$owner" ]]; then cmdline "$owner" | cut -c1-200; else echo 'an unknown process'; fi)"
    fi
  done
}

show_log_tail() {
  local f
  f=$(logfile "$1")
  if [[ -s "$f" ]]; then
    err "last lines of $f:"
    tail -n "${2:-25}" "$f" | cut -c1-400 | sed 's/^/    /' >&2
  fi
}

# launch SERVICE LOGFILE CMD... : start CMD detached (own session, survives this script), logs to LOGFILE
launch() {
  local svc=$1 logf=$2 pf i
  shift 2
  pf=$(pidfile "$svc")
  rm -f "$pf"
  [[ -f "$logf" ]] && mv -f "$logf" "$logf.1"
  # fd 9 (our flock) must not leak into the server, or the lock would be held forever.
  # shellcheck disable=SC2016 # $$ and $@ are meant for the inner bash
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$pf" "$@" >"$logf" 2>&1 </dev/null 9>&- &
  for i in $(seq 1 100); do
    [[ -s "$pf" ]] && return 0
    sleep 0.05
  done
  die "$svc: failed to launch (no pid file $pf)"
}

# ---------------------------------------------------------------------------------------------
# Kafka
kafka_libs_stamp() { echo "$KAFKA_VERSION $(sha256sum "$KAFKA_POM" | cut -c1-16)"; }

kafka_libs_ok() { [[ -f "$KAFKA_LIBS/.complete" && "$(cat "$KAFKA_LIBS/.complete")" == "$(kafka_libs_stamp)" ]]; }

install_kafka() {
  kafka_libs_ok && return 0
  need "$MVN" "Maven is needed to fetch the Kafka jars"
  need "$JAVA" "Java 17+ is needed for Kafka 4.x"
  log "kafka: fetching Kafka $KAFKA_VERSION jars from Maven Central into ${KAFKA_LIBS#"$ROOT/"} ..."
  local tmp="$KAFKA_DIR/libs.tmp"
  rm -rf "$tmp"
  mkdir -p "$KAFKA_DIR"
  "$MVN" -q -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
    -DoutputDirectory="$tmp" -DincludeScope=runtime -Dkafka.version="$KAFKA_VERSION" </dev/null
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null
  kafka_libs_stamp >"$tmp/.complete"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in ${KAFKA_LIBS#"$ROOT/"}"
}

write_kafka_conf() {
  mkdir -p "$KAFKA_DIR" "$KAFKA_DATA"
  cat >"$KAFKA_CONF.tmp" <<EOF
# Generated by deploy/local/infra.sh on every start - edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After a crash (kill -9) the restarted broker cannot re-register until its old session expires
# (default 9 s); shorter for quick restarts in fault tests.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=1000
log.retention.ms=-1
log.retention.bytes=-1
log.segment.bytes=104857600
delete.topic.enable=true
EOF
  mv -f "$KAFKA_CONF.tmp" "$KAFKA_CONF"
}

kafka_java() { # kafka_java LOG4J2_CONF JVM_OPTS... -- MAIN ARGS...
  local l4j=$1
  shift
  "$JAVA" -Dlog4j2.configurationFile="$l4j" -Djava.awt.headless=true -cp "$KAFKA_LIBS/*" "$@"
}

format_kafka() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local cid
  # Kafka cluster id: 16 random bytes, URL-safe base64 without padding (22 chars).
  cid=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  log "kafka: formatting storage ${KAFKA_DATA#"$ROOT/"} (cluster id $cid)"
  kafka_java "$SCRIPT_DIR/kafka/tools-log4j2.properties" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    kafka.tools.StorageTool format --cluster-id "$cid" --config "$KAFKA_CONF" --ignore-formatted </dev/null \
    >"$KAFKA_DIR/format.log" 2>&1 || { cat "$KAFKA_DIR/format.log" >&2; die "kafka: storage format failed"; }
}

start_kafka() {
  local pid
  pid=$(service_pid kafka)
  if [[ -n "$pid" ]]; then
    check_running_port kafka "$pid"
    log "kafka: already running (pid $pid) on $KAFKA_BOOTSTRAP"
    return 0
  fi
  check_ports_free kafka
  need "$JAVA" "Java 17+ is needed for Kafka 4.x"
  kafka_libs_ok || die "kafka: jars missing in $KAFKA_LIBS"
  write_kafka_conf
  format_kafka
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of JVM options
  launch kafka "$KAFKA_LOG" "$JAVA" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/log4j2.properties" \
    -Dkafka.logs.dir="$KAFKA_DIR" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF"
  log "kafka: started (pid $(cat "$KAFKA_PID")) on $KAFKA_BOOTSTRAP, controller 127.0.0.1:$KAFKA_CONTROLLER_PORT, log ${KAFKA_LOG#"$ROOT/"}"
}

# ---------------------------------------------------------------------------------------------
# FerretDB
ferretdb_ok() {
  [[ -x "$FERRETDB_BIN" ]] && [[ "$("$FERRETDB_BIN" --version 2>/dev/null | head -n1)" == "version: $FERRETDB_VERSION" ]]
}

install_ferretdb() {
  ferretdb_ok && return 0
  need "$GO" "Go is needed to build FerretDB"
  log "ferretdb: building FerretDB $FERRETDB_VERSION into ${FERRETDB_BIN#"$ROOT/"} (first time takes a few minutes) ..."
  # Plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@VERSION` yields a binary that panics at start
  # ("Invalid build/version/version.txt"): that file is generated by FerretDB's release tooling and is not in
  # the module. So: take the module source from the Go module proxy, add version.txt, go build.
  local tmp moddir src="$FERRETDB_DIR/src"
  tmp=$(mktemp -d)
  moddir=$(cd "$tmp" && GOWORK=off GOFLAGS='' "$GO" mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  rmdir "$tmp"
  [[ -n "$moddir" && -d "$moddir" ]] || die "ferretdb: go mod download of FerretDB $FERRETDB_VERSION failed"
  rm -rf "$src"
  mkdir -p "$FERRETDB_DIR" "$BIN"
  cp -r "$moddir" "$src"
  chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  (cd "$src" && GOWORK=off GOFLAGS=-buildvcs=false "$GO" build -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb) </dev/null
  mv -f "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  rm -rf "$src"
  ferretdb_ok || die "ferretdb: built binary does not report version $FERRETDB_VERSION"
  log "ferretdb: built $("$FERRETDB_BIN" --version | head -n1)"
}

start_ferretdb() {
  local pid
  pid=$(service_pid ferretdb)
  if [[ -n "$pid" ]]; then
    check_running_port ferretdb "$pid"
    log "ferretdb: already running (pid $pid) on $MONGO_URI"
    return 0
  fi
  check_ports_free ferretdb
  ferretdb_ok || die "ferretdb: binary missing or wrong version: $FERRETDB_BIN"
  mkdir -p "$FERRETDB_DATA" "$FERRETDB_DIR/state"
  launch ferretdb "$FERRETDB_LOG" "$FERRETDB_BIN" \
    --handler=sqlite --sqlite-url="file:$FERRETDB_DATA/" \
    --listen-addr="127.0.0.1:$FERRETDB_PORT" --debug-addr="$FERRETDB_DEBUG_ADDR" \
    --state-dir="$FERRETDB_DIR/state" --telemetry=disable --log-level=info --log-format=console
  log "ferretdb: started (pid $(cat "$FERRETDB_PID")) on $MONGO_URI, log ${FERRETDB_LOG#"$ROOT/"}"
}

# ---------------------------------------------------------------------------------------------
PYTHON_OK=
check_python() {
  [[ -n "$PYTHON_OK" ]] && return 0
  if ! { [[ -x "$PYTHON" ]] || command -v "$PYTHON" >/dev/null 2>&1; }; then
    die "PYTHON=$PYTHON not found; set PYTHON to an interpreter with aiokafka and pymongo (used for readiness checks)"
  fi
  "$PYTHON" -c 'import aiokafka, pymongo' 2>/dev/null ||
    die "PYTHON=$PYTHON cannot import aiokafka and pymongo (needed for readiness checks); set PYTHON to such a venv"
  PYTHON_OK=1
}

wait_ready() { # wait_ready SERVICE
  local svc=$1 pid rc t0 t args
  pid=$(service_pid "$svc")
  if [[ -z "$pid" ]]; then
    err "$svc: not running"
    show_log_tail "$svc"
    return 1
  fi
  check_running_port "$svc" "$pid"
  check_python
  case "$svc" in
    kafka) t=$KAFKA_READY_TIMEOUT; args=(kafka --bootstrap "$KAFKA_BOOTSTRAP") ;;
    ferretdb) t=$FERRETDB_READY_TIMEOUT; args=(mongo --uri "$MONGO_URI") ;;
  esac
  t0=$(now)
  rc=0
  # hard cap in case the probe itself wedges
  timeout -k 5 $((t + 20)) "$PYTHON" "$SCRIPT_DIR/readiness.py" "${args[@]}" --timeout "$t" --pid "$pid" 9>&- || rc=$?
  if [[ $rc -eq 3 ]]; then
    err "$svc: readiness probe cannot run with PYTHON=$PYTHON"
    return 1
  elif [[ $rc -ne 0 ]]; then
    if pid_alive "$pid"; then
      err "$svc: not ready after ${t}s (pid $pid still running; probe exit code $rc)"
    else
      err "$svc: server process $pid died during startup"
    fi
    show_log_tail "$svc"
    return 1
  fi
  log "$svc: ready ($(($(now) - t0))s)"
}

stop_service() { # stop_service SERVICE SIGNAL(TERM|KILL)
  local svc=$1 sig=$2 pid deadline
  pid=$(service_pid "$svc")
  if [[ -z "$pid" ]]; then
    log "$svc: not running"
    rm -f "$(pidfile "$svc")"
    return 0
  fi
  log "$svc: stopping pid $pid (SIG$sig)"
  kill -"$sig" "$pid" 2>/dev/null || true
  deadline=$(($(now) + STOP_TIMEOUT))
  while pid_alive "$pid"; do
    if [[ $(now) -ge $deadline && $sig != KILL ]]; then
      err "$svc: still running after ${STOP_TIMEOUT}s, sending SIGKILL"
      sig=KILL
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$(($(now) + 10))
    elif [[ $(now) -ge $deadline ]]; then
      die "$svc: pid $pid does not die even after SIGKILL"
    fi
    sleep 0.1
  done
  rm -f "$(pidfile "$svc")"
  log "$svc: stopped"
}

status_service() {
  local svc=$1 pid port
  pid=$(service_pid "$svc")
  case "$svc" in
    kafka)
      if [[ -n "$pid" ]]; then
        port=$(running_port kafka "$pid")
        port=${port:-$KAFKA_PORT}
        log "kafka: running pid $pid, bootstrap 127.0.0.1:$port ($(port_open "$port" && echo listening || echo 'not listening yet')), Kafka $KAFKA_VERSION, data ${KAFKA_DATA#"$ROOT/"}"
      else
        log "kafka: stopped$(kafka_libs_ok && echo " (jars for $KAFKA_VERSION installed)" || echo ' (jars not installed)')"
      fi
      ;;
    ferretdb)
      if [[ -n "$pid" ]]; then
        port=$(running_port ferretdb "$pid")
        port=${port:-$FERRETDB_PORT}
        log "ferretdb: running pid $pid, mongodb://127.0.0.1:$port/ ($(port_open "$port" && echo listening || echo 'not listening yet')), data ${FERRETDB_DATA#"$ROOT/"}"
      else
        log "ferretdb: stopped$(ferretdb_ok && echo " (binary $FERRETDB_VERSION installed)" || echo ' (binary not installed)')"
      fi
      ;;
  esac
  [[ -n "$pid" ]]
}

write_env() {
  mkdir -p "$INFRA"
  cat >"$INFRA/env.tmp" <<EOF
KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP
MONGO_URI=$MONGO_URI
EOF
  mv -f "$INFRA/env.tmp" "$INFRA/env"
}

lock() {
  mkdir -p "$INFRA"
  exec 9>"$INFRA/.lock"
  flock -w 900 9 || die "another infra.sh holds $INFRA/.lock for too long"
}

# run installers (in parallel when both are needed), output to .infra/<svc>/install.log
install_services() {
  local svc pids=() names=() i rc=0 logf
  for svc in "$@"; do
    case "$svc" in
      kafka) kafka_libs_ok && continue ;;
      ferretdb) ferretdb_ok && continue ;;
    esac
    mkdir -p "$INFRA/$svc"
    logf="$INFRA/$svc/install.log"
    ("install_$svc") >"$logf" 2>&1 </dev/null &
    pids+=($!)
    names+=("$svc")
    log "$svc: installing (log ${logf#"$ROOT/"}) ..."
  done
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
      grep -o '\[infra\].*' "$INFRA/${names[$i]}/install.log" | tail -n1 || true
    else
      rc=1
      err "${names[$i]}: install failed; last lines of .infra/${names[$i]}/install.log:"
      tail -n 30 "$INFRA/${names[$i]}/install.log" | sed 's/^/    /' >&2
    fi
  done
  return $rc
}

# parse_services ARGS... -> sets the global array SERVICES (default: kafka ferretdb)
parse_services() {
  local s n
  SERVICES=()
  [[ $# -eq 0 ]] && set -- kafka ferretdb
  for s in "$@"; do
    case "$s" in
      kafka) n=kafka ;;
      ferretdb | ferret | mongo | mongodb) n=ferretdb ;;
      all) SERVICES=(kafka ferretdb); continue ;;
      *) die "unknown service '$s' (kafka|ferretdb)" ;;
    esac
    [[ " ${SERVICES[*]} " == *" $n "* ]] || SERVICES+=("$n")
  done
}

kafka_tool() {
  [[ $# -ge 1 ]] || die "usage: infra.sh kafka-tool TOOL [args...]  (TOOL: topics, console-producer, console-consumer, consumer-groups, metadata-quorum, get-offsets, storage, or a main class)"
  kafka_libs_ok || die "kafka jars are not installed; run: deploy/local/infra.sh up kafka"
  local main
  case "$1" in
    topics) main=org.apache.kafka.tools.TopicCommand ;;
    console-producer) main=org.apache.kafka.tools.ConsoleProducer ;;
    console-consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    consumer-groups) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    metadata-quorum) main=org.apache.kafka.tools.MetadataQuorumCommand ;;
    get-offsets) main=org.apache.kafka.tools.GetOffsetShell ;;
    storage) main=kafka.tools.StorageTool ;;
    *) main=$1 ;;
  esac
  shift
  exec "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/tools-log4j2.properties" -cp "$KAFKA_LIBS/*" "$main" "$@"
}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SCRIPT_DIR/infra.sh"; }

main() {
  local cmd=${1:-} svc rc=0 t0
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    up)
      parse_services "$@"
      t0=$(now)
      lock
      check_python
      install_services "${SERVICES[@]}" || die "install failed"
      for svc in "${SERVICES[@]}"; do "start_$svc"; done
      for svc in "${SERVICES[@]}"; do wait_ready "$svc" || rc=1; done
      [[ $rc -eq 0 ]] || die "up failed"
      write_env
      log "up: ${SERVICES[*]} ready in $(($(now) - t0))s; env: ${INFRA#"$ROOT/"}/env ($(paste -sd' ' "$INFRA/env"))"
      ;;
    down | stop | kill)
      parse_services "$@"
      lock
      for svc in "${SERVICES[@]}"; do
        stop_service "$svc" "$([[ $cmd == kill ]] && echo KILL || echo TERM)"
      done
      ;;
    restart)
      "$SCRIPT_DIR/infra.sh" down "$@"
      exec "$SCRIPT_DIR/infra.sh" up "$@"
      ;;
    status)
      parse_services "$@"
      for svc in "${SERVICES[@]}"; do status_service "$svc" || rc=3; done
      exit $rc
      ;;
    wait)
      parse_services "$@"
      for svc in "${SERVICES[@]}"; do wait_ready "$svc" || rc=1; done
      exit $rc
      ;;
    env)
      write_env
      cat "$INFRA/env"
      ;;
    kafka-tool) kafka_tool "$@" ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
