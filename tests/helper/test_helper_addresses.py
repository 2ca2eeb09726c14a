"""The helper's view of the host's own addresses, checked against iproute2."""

import ipaddress
import json
import os
import shutil
import subprocess

import pytest
from helper_support import HELPER_SOURCE
from helper_support import system_python
from openvault import ssh_helper

needs_ip = pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2")
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to make a network namespace"
)


def iproute2_addresses(prefix=()):
    """Return the local addresses `ip -j addr` reports."""
    out = subprocess.run(
        [*prefix, "ip", "-j", "addr", "show"], capture_output=True, check=True
    ).stdout
    addresses = set()
    for link in json.loads(out):
        for info in link.get("addr_info", []):
            addresses.add(ssh_helper.canonical_ip(ipaddress.ip_address(info["local"])))
    return addresses


@needs_ip
def test_addresses_netlink_matches_iproute2():
    assert ssh_helper.netlink_addresses() == iproute2_addresses()


@needs_ip
def test_addresses_ioctl_and_proc_fallback_matches_iproute2():
    fallback = ssh_helper.ioctl_ipv4_addresses() | ssh_helper.proc_ipv6_addresses()

    assert fallback == iproute2_addresses()


def test_addresses_include_the_loopback_addresses():
    addresses = ssh_helper.local_addresses()

    assert ipaddress.ip_address("127.0.0.1") in addresses
    assert ipaddress.ip_address("127.0.0.2") not in addresses


# Addresses inside a private network namespace: documentation ranges, no
# traffic leaves the namespace.
NETNS_SETUP = """
set -e
ip link set lo up
ip addr add 198.51.100.7/24 dev lo
ip addr add 198.51.100.8/24 dev lo
ip addr add 198.51.100.9 peer 198.51.100.10 dev lo
ip -6 addr add 2001:db8::7/64 dev lo nodad
"""

NETNS_PRINT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import ssh_helper as h
def show(found):
    return sorted(str(a) for a in found)
print(json.dumps({
    "netlink": show(h.netlink_addresses()),
    "fallback": show(h.ioctl_ipv4_addresses() | h.proc_ipv6_addresses()),
}))
"""


@needs_root
@needs_ip
def test_addresses_see_secondary_and_point_to_point_addresses_in_a_netns():
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    script = NETNS_SETUP + f'exec {system_python()} -I -c "$0" "$1"\n'

    done = subprocess.run(
        [
            "unshare",
            "--net",
            "sh",
            "-c",
            script,
            NETNS_PRINT,
            str(HELPER_SOURCE.parent),
        ],
        capture_output=True,
        check=True,
    )

    found = json.loads(done.stdout)
    expected = ["127.0.0.1", "198.51.100.7", "198.51.100.8", "198.51.100.9"]
    expected += ["2001:db8::7", "::1"]
    assert found["netlink"] == sorted(expected)
    assert found["fallback"] == sorted(expected)
    assert "198.51.100.10" not in found["netlink"]  # the peer is not ours
