"""openvault.ssh.role through real ansible-playbook runs against the server."""

from __future__ import annotations

from unit.collection_env import audited_requests

# OTP_TASK as the server gets it over HTTP.
OTP_ROLE_HTTP = {
    "key_type": "otp",
    "default_user": "alice",
    "allowed_users": "bob,carol",
    "cidr_list": "198.51.100.0/24,203.0.113.0/24",
    "port": 2222,
    "ttl": 1800,
}
OTP_TASK = {
    "key_type": "otp",
    "default_user": "alice",
    "allowed_users": "bob, carol",
    "cidr_list": ["198.51.100.0/24", " 203.0.113.0/24"],
    "port": 2222,
    "ttl": "30m0s",
}


def role_task(name, register, **options):
    """Return a role task with the connection taken from the environment."""
    return {
        "name": f"Role {name}",
        "openvault.ssh.role": dict(name=name, **options),
        "register": register,
    }


def test_role_module_creates_then_reports_no_change(play, ssh_server):
    """ANS-02 step 3 and ANS-01 case 1: changed, data {}, then changed=false."""
    run = play(
        [
            role_task("otp1", "first", **OTP_TASK),
            role_task("otp1", "second", **OTP_TASK),
        ]
    )

    assert run.returncode == 0, run.stdout
    first, second = run.result("first"), run.result("second")
    assert first["changed"] is True
    assert first["data"] == {}
    assert "warnings" not in first
    assert second["changed"] is False
    assert second["changes"] == []
    stored = ssh_server.request("GET", "ssh/roles/otp1").json["data"]
    assert stored["port"] == 2222
    assert stored["ttl"] == 1800
    assert first["role"]["allowed_users"] == "bob,carol"
    assert first["role"]["cidr_list"] == "198.51.100.0/24,203.0.113.0/24"
    assert run.recap()["changed"] == 1


def test_role_module_check_mode_sends_no_write(play, ssh_server):
    """ANS-01 case 3: in check mode nothing is written; changed is predicted."""
    run = play([role_task("otp1", "checked", **OTP_TASK)], "--check")

    assert run.returncode == 0, run.stdout
    checked = run.result("checked")
    assert checked["changed"] is True
    assert checked["data"] == {}
    assert ssh_server.request("GET", "ssh/roles/otp1").status == 404
    assert audited_requests(ssh_server, "ssh/roles") == []


def test_role_module_check_mode_reports_no_change_for_an_equal_role(play, ssh_server):
    """Check mode against an identical role predicts changed=false."""
    checked = dict(role_task("otp1", "checked", **OTP_TASK), check_mode=True)

    run = play([role_task("otp1", "made", **OTP_TASK), checked])

    assert run.result("made")["changed"] is True
    assert run.result("checked")["changed"] is False


def test_role_module_diff_shows_the_reset_fields(play, ssh_server):
    """A write replaces the role: left-out fields return to their defaults."""
    stored_role = dict(OTP_ROLE_HTTP)
    assert ssh_server.request("POST", "ssh/roles/otp1", stored_role).status == 204
    smaller = {
        "key_type": "otp",
        "default_user": "alice",
        "cidr_list": "198.51.100.0/24",
    }

    run = play([role_task("otp1", "changed", **smaller)], "--diff")

    assert run.returncode == 0, run.stdout
    changed = run.result("changed")
    assert changed["changes"] == ["allowed_users", "cidr_list", "port", "ttl"]
    assert '-    "port": 2222,' in run.stdout
    assert '+    "port": 22,' in run.stdout
    assert '-    "ttl": 1800' in run.stdout
    stored = ssh_server.request("GET", "ssh/roles/otp1").json["data"]
    assert (stored["port"], stored["ttl"], stored["allowed_users"]) == (22, 0, "")


def test_role_module_fails_with_the_servers_message(play, ssh_server):
    """An unknown key_type and a bad CIDR fail with the server's own error."""
    bad_type = {"key_type": "foo", "default_user": "alice"}
    bad_cidr = {"key_type": "otp", "default_user": "alice", "cidr_list": "10.0.0.0/33"}
    expected_type = ssh_server.request("POST", "ssh/roles/x", bad_type).json["errors"]
    expected_cidr = ssh_server.request("POST", "ssh/roles/x", bad_cidr).json["errors"]

    tasks = [
        dict(role_task("x", "bad_type", **bad_type), ignore_errors=True),
        dict(role_task("x", "bad_cidr", **bad_cidr), ignore_errors=True),
    ]

    run = play(tasks)

    for name, expected in (("bad_type", expected_type), ("bad_cidr", expected_cidr)):
        failed = run.result(name)
        assert failed["failed"] is True
        assert failed["status"] == 400
        assert failed["msg"] == (
            "POST ssh/roles/x failed (HTTP 400): " + "; ".join(expected)
        )


def test_role_module_refuses_dynamic_options_on_otp_roles(play, ssh_server):
    """admin_user on an OTP role is an error, not silently dropped."""
    task = role_task("x", "failed", admin_user="vaultadmin", **OTP_TASK)
    task["ignore_errors"] = True

    run = play([task])

    assert run.result("failed")["msg"] == (
        "'admin_user' only apply to key_type=dynamic, got key_type=otp"
    )
    assert audited_requests(ssh_server, "ssh/roles") == []


def test_role_module_refuses_hyphenated_names(play, ssh_server):
    """ANS-02 step 2: 'algorithm-signer' is refused instead of ignored."""
    task = role_task("x", "failed", **OTP_TASK)
    task["openvault.ssh.role"]["default-user"] = "bob"
    task["ignore_errors"] = True

    run = play([task])

    assert "Unsupported parameters" in run.result("failed")["msg"]
    assert "default-user" in run.result("failed")["msg"]


def test_role_module_dynamic_role_is_idempotent(play, ssh_server, tmp_path):
    """A dynamic role with its admin key converges and then stays unchanged."""
    import subprocess

    key_path = tmp_path / "admin"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(key_path)],
        check=True,
    )
    dynamic = {
        "key_type": "dynamic",
        "key": "dev_key",
        "admin_user": "vaultadmin",
        "default_user": "alice",
        "cidr_list": "198.51.100.0/24",
        "key_bits": 3072,
        "key_option_specs": "no-port-forwarding",
    }
    key_task = {
        "openvault.ssh.key": {"name": "dev_key", "key": key_path.read_text()},
        "no_log": True,
    }

    run = play(
        [
            key_task,
            role_task("dyn", "first", **dynamic),
            role_task("dyn", "again", **dynamic),
        ]
    )

    assert run.returncode == 0, run.stdout
    assert run.result("first")["changed"] is True
    assert run.result("again")["changed"] is False
    stored = ssh_server.request("GET", "ssh/roles/dyn").json["data"]
    assert (stored["key_bits"], stored["admin_user"]) == (3072, "vaultadmin")


def test_role_module_deletes_once(play, ssh_server):
    """state=absent deletes the role, then reports no change."""
    assert ssh_server.request("POST", "ssh/roles/otp1", OTP_ROLE_HTTP).status == 204

    run = play(
        [
            role_task("otp1", "deleted", state="absent"),
            role_task("otp1", "again", state="absent"),
        ],
        "--diff",
    )

    assert run.result("deleted")["changed"] is True
    assert run.result("again")["changed"] is False
    assert ssh_server.request("GET", "ssh/roles/otp1").status == 404
