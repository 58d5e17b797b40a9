"""CLIENT PAUSE / UNPAUSE, FAILOVER between our server and real redis-server 7.0, and
replicas of IPv6 masters.

Every test starts its own servers on free ports and polls with deadlines.
"""
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import Server, _server_cmd
from resp import RawConn, parse

from test_replication_replica import wait_until, info, call, link_up, real_redis, servers  # noqa: F401


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def start_ours(srvs, extra=""):
    return srvs(Server(_server_cmd() + extra, "ours").start())


def start_real(srvs, extra=""):
    return srvs(Server(real_redis() + extra, "real").start())


# ---------------------------------------------------------------- IPv6 masters

@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
@pytest.mark.parametrize("how", ["config", "command"])
def test_replica_of_ipv6_master(servers, how):
    # "env" keeps conftest from replacing the bind with 127.0.0.1 only: the master listens
    # on ::1 too, and the replica must reach it there.
    master = servers(Server("env " + real_redis() + " --bind ::1 127.0.0.1", "v6master").start())
    call(master, "SET", "k", "v6")
    if how == "config":
        replica = start_ours(servers, " --replicaof ::1 %d" % master.port)
    else:
        replica = start_ours(servers)
        assert call(replica, "REPLICAOF", "::1", str(master.port)) == b"+OK\r\n"
    wait_until(lambda: link_up(replica), what="link up over IPv6")
    assert info(replica)["master_host"] == "::1"
    assert call(replica, "GET", "k") == b"$2\r\nv6\r\n"
    assert info(master)["slave0"].startswith("ip=::1,")
