#!/usr/bin/env bash
# Installs what building and testing swift-redis needs, and only what is missing:
#   liburing-dev                 - the CURing target links against liburing
#   liblua5.1-0-dev, lua-cjson-dev, lua-bitop-dev - the CLua target: scripting (EVAL, FUNCTION)
#   redis-server, redis-tools    - reference server for differential tests, redis-cli, redis-benchmark
#   python3 redis + pytest       - the integration suite in Tests/Integration
# Idempotent: on a machine that has everything it runs no package manager at all.
# Never leaves Debian's redis-server service running on 6379, which `make run` wants.
set -euo pipefail

log() { echo "install-deps: $*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { log "not root and no sudo"; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

# --- Debian packages -------------------------------------------------------------------------
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in liburing-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev redis-server redis-tools python3; do
    have_pkg "$p" || missing+=("$p")
done
# Python modules: anything importable will do (a pip install is as good as Debian's).
# Debian's python3-redis (4.3.4 in bookworm) and python3-pytest (7.2.1) are enough for the suite.
python_ok() { python3 -c 'import redis, pytest' >/dev/null 2>&1; }
if ! python_ok; then
    python3 -c 'import redis' >/dev/null 2>&1 || missing+=(python3-redis)
    python3 -c 'import pytest' >/dev/null 2>&1 || missing+=(python3-pytest)
fi

updated=0
apt_update_once() {
    if [ "$updated" -eq 0 ]; then
        $SUDO apt-get update -qq
        updated=1
    fi
}

if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    apt_update_once
    # Keep the postinst scripts from starting redis-server on 6379: policy-rc.d exit 101
    # tells invoke-rc.d "not allowed". Only install our own if none exists, and remove it after.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod 755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    set +e
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
    rc=$?
    set -e
    [ "$own_policy" -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
    [ "$rc" -eq 0 ] || { log "apt-get install failed ($rc)"; exit "$rc"; }
fi

# Fallback for a distribution without the Debian Python packages: pip.
if ! python_ok; then
    log "python redis/pytest still missing, using pip"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_update_once
        $SUDO apt-get install -y -qq --no-install-recommends python3-pip
    fi
    $SUDO python3 -m pip install -q --break-system-packages redis pytest \
        || $SUDO python3 -m pip install -q redis pytest
fi
python_ok || { log "python modules redis/pytest not importable"; exit 1; }

# --- Debian's redis-server service -----------------------------------------------------------
# The package enables a service on 127.0.0.1:6379. Tests never use 6379, but `make run` does,
# so stop and disable it whether systemd is running (a VM) or not (a container).
if have_pkg redis-server; then
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        if systemctl is-enabled --quiet redis-server 2>/dev/null || systemctl is-active --quiet redis-server 2>/dev/null; then
            log "stopping and disabling the redis-server service"
            $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
        fi
    elif [ -x /etc/init.d/redis-server ] && [ -f /run/redis/redis-server.pid ]; then
        log "stopping the redis-server service"
        $SUDO service redis-server stop >/dev/null 2>&1 || $SUDO /etc/init.d/redis-server stop || true
        command -v update-rc.d >/dev/null && $SUDO update-rc.d redis-server disable >/dev/null 2>&1 || true
    fi
fi

for t in redis-server redis-cli redis-benchmark; do
    command -v "$t" >/dev/null || { log "$t not found after install"; exit 1; }
done
log "ok"
