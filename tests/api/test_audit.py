"""The JSON-lines audit log: an entry per request and response, secrets HMACed."""

import json
import time

import pytest
from api_support import errors
from api_support import new_mount
from api_support import raw_request
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

pytestmark = pytest.mark.xdist_group("api_audit")


def entries_since(server, offset):
    """Return the audit entries written after byte `offset`."""
    with open(server.audit_path, "rb") as handle:
        handle.seek(offset)
        return [json.loads(line) for line in handle.read().splitlines()]


def audit_offset(server):
    """Return the audit file's current size."""
    return server.audit_path.stat().st_size


def audit_hash(server, value):
    """Return the HMAC under which `value` appears in the audit log."""
    reply = server.request("PUT", "sys/audit-hash/config", {"input": value})
    assert reply.status == 200, reply.text
    return reply.json["data"]["hash"]


def by_id(entries, request_id):
    """Return the entries of one request, in order."""
    return [e for e in entries if e["request"]["id"] == request_id]


def test_audit_every_request_gets_a_request_and_a_response_entry(otp_role):
    server = otp_role.server
    offset = audit_offset(server)

    replies = [
        otp_role.request("GET", "roles/otp1"),
        otp_role.request(
            "POST", "roles/otp2", {"key_type": "otp", "default_user": "a"}
        ),
        otp_role.request("POST", "creds/otp1", {"ip": "192.0.2.10"}),
        otp_role.request("POST", "creds/otp1", {"ip": "203.0.113.1"}),
        otp_role.request("LIST", "roles"),
        otp_role.request("DELETE", "roles/otp2"),
    ]

    entries = entries_since(server, offset)
    assert len(entries) == 2 * len(replies)
    ids = []
    for entry in entries:
        if entry["request"]["id"] not in ids:
            ids.append(entry["request"]["id"])
    assert len(ids) == len(replies)
    for request_id in ids:
        assert [e["type"] for e in by_id(entries, request_id)] == [
            "request",
            "response",
        ]
    statuses = [e["response"]["status"] for e in entries if e["type"] == "response"]
    assert statuses == [reply.status for reply in replies]


def test_audit_entries_name_path_operation_and_caller(otp_role):
    server = otp_role.server
    offset = audit_offset(server)

    reply = otp_role.request("GET", "roles/otp1")

    request, response = by_id(entries_since(server, offset), reply.json["request_id"])
    assert request["request"]["path"] == f"{otp_role.path}/roles/otp1"
    assert request["request"]["operation"] == "read"
    assert request["request"]["mount_type"] == "ssh"
    assert request["request"]["remote_address"] == "127.0.0.1"
    assert request["auth"]["policies"] == ["root"]
    assert request["request"]["client_token"] == audit_hash(server, server.root_token)
    assert response["response"]["data"]["default_user"] == "alice"
    assert response["time"].endswith("Z")


def test_audit_otp_appears_only_as_its_hmac(otp_role):
    server = otp_role.server
    offset = audit_offset(server)

    reply = otp_role.creds("otp1")
    otp = reply.json["data"]["key"]
    otp_role.verify(otp)

    entries = entries_since(server, offset)
    creds_response = by_id(entries, reply.json["request_id"])[1]
    assert creds_response["response"]["data"]["key"] == audit_hash(server, otp)
    assert creds_response["response"]["data"]["key"].startswith("hmac-sha256:")
    assert creds_response["response"]["secret"] == {"lease_id": reply.json["lease_id"]}
    verify_request = [e for e in entries if e["request"]["path"].endswith("/verify")][0]
    assert verify_request["request"]["data"]["otp"] == audit_hash(server, otp)
    server.assert_never_logged(otp)


def test_audit_records_each_verify_with_ip_username_and_result(otp_role):
    server = otp_role.server
    otp = otp_role.otp("otp1", username="alice")
    offset = audit_offset(server)

    otp_role.verify(otp)
    otp_role.verify(otp)

    verifies = [e for e in entries_since(server, offset) if e["type"] == "response"]
    success, failure = verifies
    assert success["verify"] == {
        "result": "success",
        "username": "alice",
        "ip": "192.0.2.10",
        "role_name": "otp1",
    }
    assert success["request"]["remote_address"] == "127.0.0.1"
    assert failure["verify"] == {"result": "failure", "reason": "OTP not found"}
    assert failure["response"]["status"] == 400
    assert failure["request"]["remote_address"] == "127.0.0.1"


def test_audit_records_the_user_and_host_of_an_expired_otp(ov_server_factory):
    # A sweeper that never runs leaves the expired OTP stored for verify to see.
    server = ov_server_factory("lazy", extra_config="sweep_interval = 3600")
    ssh = new_mount(server)
    ssh.write_role("brief", ttl="1s")
    otp = ssh.otp("brief", ip="192.0.2.44")
    time.sleep(1.1)
    offset = audit_offset(server)

    reply = ssh.verify(otp)

    assert errors(reply) == ["OTP not found"]
    (response,) = [e for e in entries_since(server, offset) if "verify" in e]
    assert response["verify"] == {
        "result": "failure",
        "reason": "OTP expired",
        "username": "alice",
        "ip": "192.0.2.44",
        "role_name": "brief",
    }


def test_audit_tokens_appear_only_as_hmacs(api_server):
    offset = audit_offset(api_server)

    created = api_server.request("POST", "auth/token/create", {"policies": "default"})
    token = created.json["auth"]["client_token"]
    api_server.request("GET", "auth/token/lookup-self", token=token)

    entries = entries_since(api_server, offset)
    response = by_id(entries, created.json["request_id"])[1]
    assert response["response"]["auth"]["client_token"] == audit_hash(api_server, token)
    lookup = [e for e in entries if e["request"]["path"] == "auth/token/lookup-self"]
    assert lookup[0]["request"]["client_token"] == audit_hash(api_server, token)
    assert lookup[1]["response"]["data"]["id"] == audit_hash(api_server, token)
    api_server.assert_never_logged(token)


def test_audit_the_root_token_never_appears_in_the_log_or_audit_file(api_server):
    api_server.request("GET", "sys/mounts")
    api_server.request("GET", "auth/token/lookup-self")

    api_server.assert_never_logged(api_server.root_token)


def test_audit_registered_private_keys_appear_only_as_hmacs(ssh):
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    body_line = pem.splitlines()[1]

    reply = ssh.request("POST", "keys/admin", {"key": pem})

    assert reply.status == 204
    ssh.server.assert_never_logged(body_line)


def test_audit_requests_with_an_unknown_token_are_recorded(otp_role):
    server = otp_role.server
    offset = audit_offset(server)

    reply = otp_role.request("GET", "roles/otp1", token="s.guessed-token")

    assert reply.status == 403
    request, response = entries_since(server, offset)
    assert (request["type"], response["type"]) == ("request", "response")
    assert request["request"]["id"] == response["request"]["id"]
    assert request["request"]["path"] == f"{otp_role.path}/roles/otp1"
    assert request["request"]["client_token"] == audit_hash(server, "s.guessed-token")
    assert response["response"]["status"] == 403
    assert response["error"] == "permission denied"
    server.assert_never_logged("s.guessed-token")


def test_audit_requests_with_a_malformed_body_are_recorded(otp_role):
    server = otp_role.server
    offset = audit_offset(server)

    status, _, _ = raw_request(
        server,
        "POST",
        f"{otp_role.path}/creds/otp1",
        b'{"ip": ',
        {"X-Vault-Token": server.root_token},
    )

    assert status == 400
    request, response = entries_since(server, offset)
    assert request["request"]["path"] == f"{otp_role.path}/creds/otp1"
    assert response["response"]["status"] == 400
    assert response["error"].startswith("failed to decode JSON input")


def test_audit_requests_to_unknown_paths_are_recorded(api_server):
    offset = audit_offset(api_server)

    api_server.request("GET", "nowhere/at/all")

    request, response = entries_since(api_server, offset)
    assert request["request"]["path"] == "nowhere/at/all"
    assert response["response"]["status"] == 404


def test_audit_device_enabled_through_the_api_gets_entries(api_server, tmp_path):
    path = tmp_path / "second.log"
    enabled = api_server.request(
        "PUT",
        "sys/audit/second",
        {"type": "file", "options": {"file_path": str(path)}},
    )
    assert enabled.status == 204
    time.sleep(1.1)  # the device list is cached for a second

    reply = api_server.request("GET", "sys/mounts")

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["request"]["id"] for e in lines if e["type"] == "response"][-1] == (
        reply.json["request_id"]
    )
    devices = api_server.request("GET", "sys/audit").json["data"]
    assert devices["second/"]["options"] == {"file_path": str(path)}
    assert devices["config/"]["type"] == "file"

    api_server.request("DELETE", "sys/audit/second")
    time.sleep(1.1)
    size = path.stat().st_size
    api_server.request("GET", "sys/mounts")
    assert path.stat().st_size == size


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"type": "syslog"},
            "'type' must be \"file\": it is the only audit device type",
        ),
        (
            {"type": "file", "options": {"file_path": "relative.log"}},
            "'options.file_path' must be an absolute file path, got 'relative.log'",
        ),
        (
            {"type": "file", "options": {"file_path": 5}},
            "'options.file_path' must be an absolute file path, got '5'",
        ),
        (
            {"type": "file", "options": {"file_path": "/nonexistent-dir/a.log"}},
            "cannot open audit file '/nonexistent-dir/a.log': No such file or"
            " directory",
        ),
    ],
)
def test_audit_enable_refuses_bad_devices(api_server, body, message):
    reply = api_server.request("PUT", "sys/audit/bad", body)

    assert reply.status == 400
    assert errors(reply) == [message]
    assert "bad/" not in api_server.request("GET", "sys/audit").json["data"]


def test_audit_config_device_path_is_taken(api_server, tmp_path):
    body = {"type": "file", "options": {"file_path": str(tmp_path / "x.log")}}

    reply = api_server.request("PUT", "sys/audit/config", body)

    assert reply.status == 400
    assert errors(reply) == ["path already in use: config/"]


def test_audit_help_requests_are_recorded(otp_role):
    server = otp_role.server
    offset = audit_offset(server)

    reply = otp_role.request("GET", "roles/otp1?help=1")

    assert reply.status == 200
    request, response = entries_since(server, offset)
    assert request["request"]["operation"] == "help"
    assert request["request"]["path"] == f"{otp_role.path}/roles/otp1"
    assert response["response"]["status"] == 200


def test_audit_hash_refuses_an_unknown_device(api_server):
    reply = api_server.request("PUT", "sys/audit-hash/nosuch", {"input": "x"})

    assert reply.status == 400
    assert reply.json["errors"] == ["unknown audit device 'nosuch'"]
