#!/usr/bin/env bash
# The local cluster: each service its own process on Kafka + FerretDB + its own SQLite event store, a
# relay per service, nginx (deploy/nginx) as the gateway with the same URLs as `make dev`. Each service
# process also runs its projections and reactors (<NAME>_CONSUMERS, on by default): one consumer per
# group, the single-active shape that compose and k8s get from a worker beside HTTP-only APIs.
#
#   deploy/local/cluster.sh up       start Kafka/FerretDB if needed (infra.sh up), then whatever is not running; wait until ready
#   deploy/local/cluster.sh down     SIGTERM every process of the cluster, wait (STOP_TIMEOUT, default 20 s), then SIGKILL
#   deploy/local/cluster.sh status   what runs, and each service's /readyz through the gateway; exit 0 if all run, else 3
#
# Ports (127.0.0.1 only): the gateway on PORT (8000); identity 8101, contracts 8102, billing 8103,
# payments 8104, notifications 8105, profile 8106; the payment gateway sandbox (PayU protocol) on SANDBOX_PORT (8010).
# Files under .infra/cluster/ (gitignored): env (every variable, written by `python -m libs.events.cluster
# prepare`), secrets/ (back-office token, notifications' sealing key pair, identity's keys and JWKS),
# <service>/ (events.db, relay-checkpoint.json), nginx/ (rendered config), logs/, run/ (pid files).
# Read models: FerretDB databases strefa_<service>; topics leasing.<service>.events.
# The back-office token: .infra/cluster/secrets/backoffice-token (Authorization: Bearer <token>).
# Knobs: PORT (8000), SANDBOX_PORT (8010), PYTHON (.venv/bin/python), NGINX (nginx), CLUSTER_READY_TIMEOUT (90), STOP_TIMEOUT (20).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
cd "$ROOT"
CLUSTER="$ROOT/.infra/cluster"
RUN="$CLUSTER/run"
LOGS="$CLUSTER/logs"
PORT=${PORT:-8000}
SANDBOX_PORT=${SANDBOX_PORT:-8010}
PYTHON=${PYTHON:-.venv/bin/python}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
CLUSTER_READY_TIMEOUT=${CLUSTER_READY_TIMEOUT:-90}
STOP_TIMEOUT=${STOP_TIMEOUT:-20}
SERVICES=(identity contracts billing payments notifications profile) # = SERVICE_NAMES in libs/events/cluster.py (tests/deploy)
SANDBOX=payu-sandbox

say() { echo "[cluster] $*"; }
die() { echo "[cluster] error: $*" >&2; exit 1; }

port_of() {
    local i
    for i in "${!SERVICES[@]}"; do
        [[ ${SERVICES[$i]} == "$1" ]] && { echo $((8101 + i)); return; }
    done
    return 1
}

running() { # running NAME: exit 0 when its pid file names a live process
    local pid_file="$RUN/$1.pid"
    [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

spawn() { # spawn NAME COMMAND...: in its own session, output to logs/NAME.log, pid to run/NAME.pid
    local name=$1
    shift
    if running "$name"; then
        say "$name: already running (pid $(cat "$RUN/$name.pid"))"
        return
    fi
    setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
    say "$name: started (pid $!, log .infra/cluster/logs/$name.log)"
}

ensure_nginx() {
    [[ -x $NGINX ]] && return
    say "nginx is missing: installing the Debian package"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get install -y nginx >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y nginx >/dev/null; }
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    [[ -x $NGINX ]] || die "nginx could not be installed"
}

ready() { # ready: every service's /readyz through the gateway answers 200
    local name
    for name in "${SERVICES[@]}"; do
        "$PYTHON" - "http://127.0.0.1:$PORT/api/$name/readyz" <<'EOF' || return 1
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
    done
}

up() {
    [[ -x $PYTHON ]] || die "$PYTHON is missing: run make install"
    ensure_nginx
    PYTHON="$PYTHON" "$SCRIPT_DIR/infra.sh" up
    set -a
    # shellcheck disable=SC1091
    . "$ROOT/.infra/env"
    set +a
    mkdir -p "$RUN" "$LOGS"
    "$PYTHON" -m libs.events.cluster prepare "$CLUSTER" "127.0.0.1:$PORT"
    [[ -f web/dist/index.html ]] || say "web/dist is not built (make web): the API works, / answers 404"
    set -a
    # shellcheck disable=SC1091
    . "$CLUSTER/env"
    set +a
    export PAYMENTS_PAYU_URL="http://127.0.0.1:$SANDBOX_PORT"
    spawn "$SANDBOX" "$PYTHON" -m services.gateway_sandbox --host 127.0.0.1 --port "$SANDBOX_PORT"
    local name
    for name in "${SERVICES[@]}"; do # identity first: it makes the signing key and JWKS the others read
        spawn "$name" "$PYTHON" -m "services.$name" --host 127.0.0.1 --port "$(port_of "$name")"
        spawn "$name-relay" "$PYTHON" -m libs.events.relay --service "$name"
    done
    "$NGINX" -p "$CLUSTER/nginx" -c "$CLUSTER/nginx/nginx.conf" -t -q || die "nginx -t failed"
    spawn nginx "$NGINX" -p "$CLUSTER/nginx" -c "$CLUSTER/nginx/nginx.conf" -g "daemon off;"
    local deadline=$((SECONDS + CLUSTER_READY_TIMEOUT))
    until ready; do
        for name in "${SERVICES[@]}" "${SERVICES[@]/%/-relay}" "$SANDBOX" nginx; do
            running "$name" || die "$name exited: see .infra/cluster/logs/$name.log"
        done
        ((SECONDS < deadline)) || die "not ready within $CLUSTER_READY_TIMEOUT s: see .infra/cluster/logs/"
        sleep 1
    done
    say "payment sandbox: http://127.0.0.1:$SANDBOX_PORT"
    say "ready: http://127.0.0.1:$PORT (back-office token in .infra/cluster/secrets/backoffice-token)"
}

down() {
    local name pid pids=()
    for name in nginx "${SERVICES[@]}" "${SERVICES[@]/%/-relay}" "$SANDBOX"; do
        if running "$name"; then
            pid=$(cat "$RUN/$name.pid")
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$name:$pid")
        fi
    done
    local deadline=$((SECONDS + STOP_TIMEOUT)) entry
    for entry in "${pids[@]}"; do
        name=${entry%%:*}
        pid=${entry#*:}
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            say "$name: killed (pid $pid)"
        else
            say "$name: stopped"
        fi
        rm -f "$RUN/$name.pid"
    done
    ((${#pids[@]})) || say "nothing running"
}

status() {
    local name all=0
    for name in "${SERVICES[@]}" "${SERVICES[@]/%/-relay}" "$SANDBOX" nginx; do
        if running "$name"; then
            say "$name: running pid $(cat "$RUN/$name.pid")"
        else
            say "$name: not running"
            all=3
        fi
    done
    if ((all == 0)); then
        if ready; then say "gateway http://127.0.0.1:$PORT: every /readyz answers 200"; else say "gateway: not ready"; all=3; fi
    fi
    return $all
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
*)
    echo "usage: $0 up|down|status" >&2
    exit 64
    ;;
esac
