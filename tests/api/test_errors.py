"""Vault's HTTP conventions: /v1/, the envelope, status codes and bad input."""

import json
import socket

import pytest
from api_support import ENVELOPE
from api_support import MULTI_DENIED
from api_support import OTP_ROLE
from api_support import UNSUPPORTED_OPERATION
from api_support import UNSUPPORTED_PATH
from api_support import UUID
from api_support import errors
from api_support import raw_request

pytestmark = pytest.mark.xdist_group("api_errors")


def test_errors_success_envelope_has_vaults_keys_in_order(otp_role):
    reply = otp_role.request("GET", "roles/otp1")

    assert reply.status == 200
    assert list(reply.json) == ENVELOPE
    assert UUID.match(reply.json["request_id"])
    assert reply.json["wrap_info"] is None
    assert reply.json["warnings"] is None
    assert reply.json["auth"] is None
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "no-store"


def test_errors_request_ids_differ_between_requests(otp_role):
    first = otp_role.request("GET", "roles/otp1").json["request_id"]
    second = otp_role.request("GET", "roles/otp1").json["request_id"]

    assert first != second


def test_errors_write_without_data_answers_204_with_json_type(ssh):
    reply = ssh.request("POST", "roles/r", OTP_ROLE)

    assert reply.status == 204
    assert reply.text == ""
    assert reply.headers["Content-Type"] == "application/json"


def test_errors_error_envelope_is_a_list_of_errors(otp_role):
    reply = otp_role.request("POST", "creds/otp1", {})

    assert reply.status == 400
    assert reply.json == {"errors": ["Missing ip"]}
    assert reply.text.endswith("\n")
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "no-store"


def test_errors_put_and_post_are_both_writes(ssh):
    put = ssh.request("PUT", "roles/by-put", OTP_ROLE)
    post = ssh.request("POST", "roles/by-post", OTP_ROLE)

    assert (put.status, post.status) == (204, 204)
    assert ssh.request("GET", "roles/by-put").json["data"]["key_type"] == "otp"


def test_errors_api_lives_under_v1_only(api_server):
    status, _, body = raw_request(api_server, "GET", "sys/health", prefix="/")

    assert status == 404
    assert body == {"errors": []}


@pytest.mark.parametrize(
    "token",
    [None, "", "s.not-a-real-token"],
    ids=["none", "empty", "unknown"],
)
def test_errors_missing_or_unknown_token_is_403(otp_role, token):
    reply = otp_role.request("GET", "roles/otp1", token=token)

    assert reply.status == 403
    assert reply.json == {"errors": ["permission denied"]}


def test_errors_token_without_the_path_in_its_policies_is_403(otp_role, api_server):
    created = api_server.request("POST", "auth/token/create", {"policies": "default"})
    token = created.json["auth"]["client_token"]

    reply = otp_role.request("GET", "roles/otp1", token=token)

    assert reply.status == 403
    assert reply.json == {"errors": [MULTI_DENIED]}


def test_errors_authorization_bearer_header_carries_the_token(otp_role, api_server):
    reply = api_server.request(
        "GET",
        f"{otp_role.path}/roles/otp1",
        token=None,
        headers={"Authorization": f"Bearer {api_server.root_token}"},
    )

    assert reply.status == 200


def test_errors_unknown_path_inside_a_mount_is_404_unsupported_path(ssh):
    reply = ssh.request("GET", "nosuch/thing")

    assert reply.status == 404
    assert errors(reply) == [UNSUPPORTED_PATH]


def test_errors_path_outside_every_mount_is_404(api_server):
    reply = api_server.request("GET", "nomount-here/roles/x")

    assert reply.status == 404
    assert errors(reply) == [
        'no handler for route "nomount-here/roles/x". route entry not found.'
    ]


def test_errors_unknown_role_is_404_with_no_message(ssh):
    reply = ssh.request("GET", "roles/nosuch")

    assert reply.status == 404
    assert reply.json == {"errors": []}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "creds/otp1"), ("GET", "roles"), ("DELETE", "creds/otp1")],
)
def test_errors_wrong_method_is_405(otp_role, method, path):
    reply = otp_role.request(method, path)

    assert reply.status == 405
    assert errors(reply) == [UNSUPPORTED_OPERATION]


def test_errors_wrong_method_on_verify_is_405_without_multierror(ssh):
    """verify is unauthenticated, so OpenBao does not wrap its error."""
    reply = ssh.request("GET", "verify", token=None)

    assert reply.status == 405
    assert errors(reply) == ["unsupported operation"]


def test_errors_list_verb_and_get_list_true_are_the_same(otp_role):
    otp_role.write_role("otp2")

    by_verb = otp_role.request("LIST", "roles")
    by_query = otp_role.request("GET", "roles?list=true")

    assert by_verb.status == by_query.status == 200
    assert by_verb.json["data"] == by_query.json["data"]
    assert by_verb.json["data"]["keys"] == ["otp1", "otp2"]


def test_errors_malformed_json_is_400_and_stores_nothing(ssh, api_server):
    status, _, body = raw_request(
        api_server,
        "POST",
        f"{ssh.path}/roles/broken",
        b'{"key_type": "otp", "default_user": ',
        {"X-Vault-Token": api_server.root_token},
    )

    assert status == 400
    assert body["errors"][0].startswith("failed to decode JSON input: ")
    assert ssh.request("GET", "roles/broken").status == 404


def test_errors_json_that_is_not_an_object_is_400(ssh, api_server):
    status, _, body = raw_request(
        api_server,
        "POST",
        f"{ssh.path}/roles/broken",
        b'["key_type", "otp"]',
        {"X-Vault-Token": api_server.root_token},
    )

    assert status == 400
    assert body == {
        "errors": ["failed to decode JSON input: the body must be a JSON object"]
    }


UNDECODABLE = [
    (
        b'{"key_type": "otp", "default_user": "alice", "port": ' + b"9" * 5000 + b"}",
        "failed to decode JSON input: a number is too long",
    ),
    (
        b'{"key_type": ' + b"[" * 100000 + b"]" * 100000 + b"}",
        "failed to decode JSON input: arrays or objects are nested too deeply",
    ),
    (
        b'{"key_type": "otp", "default_user": "alice", "description": "\\ud800"}',
        "failed to decode JSON input: a string holds an unpaired UTF-16 surrogate"
        " escape such as \\ud800",
    ),
]


@pytest.mark.parametrize(
    ("raw", "message"), UNDECODABLE, ids=["long-number", "deep", "surrogate"]
)
def test_errors_json_python_cannot_hold_is_400_and_stores_nothing(
    ssh, api_server, raw, message
):
    status, _, body = raw_request(
        api_server,
        "POST",
        f"{ssh.path}/roles/odd",
        raw,
        {"X-Vault-Token": api_server.root_token},
    )

    assert status == 400
    assert body == {"errors": [message]}
    assert ssh.request("GET", "roles/odd").status == 404


def test_errors_unpaired_surrogate_in_a_mount_description_is_400(api_server):
    status, _, body = raw_request(
        api_server,
        "POST",
        "sys/mounts/surrogate",
        b'{"type": "ssh", "description": "\\udc00x"}',
        {"X-Vault-Token": api_server.root_token},
    )

    assert status == 400
    assert body["errors"][0].startswith("failed to decode JSON input: ")
    assert api_server.request("GET", "sys/mounts/surrogate").status == 400


def test_errors_paired_surrogates_are_an_ordinary_character(api_server):
    status, _, _ = raw_request(
        api_server,
        "POST",
        "sys/mounts/paired",
        b'{"type": "ssh", "description": "\\ud83d\\ude00"}',
        {"X-Vault-Token": api_server.root_token},
    )

    assert status == 204
    reply = api_server.request("GET", "sys/mounts/paired")
    assert reply.json["data"]["description"] == "\U0001f600"


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 3 * 1024 * 1024])
def test_errors_oversized_body_is_413_and_stores_nothing(ssh, api_server, size):
    """The client reads the 413 even while it is still sending its body."""
    body = json.dumps(dict(OTP_ROLE, padding="x" * size)).encode()

    for _ in range(5):
        status, _, reply = raw_request(
            api_server,
            "POST",
            f"{ssh.path}/roles/huge",
            body,
            {"X-Vault-Token": api_server.root_token},
        )

        assert status == 413
        assert reply == {
            "errors": ["request body is larger than the 1048576-byte limit"]
        }
    assert ssh.request("GET", "roles/huge").status == 404


def test_errors_form_encoded_body_is_accepted_like_openbao(ssh, api_server):
    status, _, _ = raw_request(
        api_server,
        "POST",
        f"{ssh.path}/roles/form",
        b"key_type=otp&default_user=alice&cidr_list=192.0.2.0/24",
        {
            "X-Vault-Token": api_server.root_token,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )

    assert status == 204
    assert ssh.request("GET", "roles/form").json["data"]["default_user"] == "alice"


def test_errors_curl_style_json_labelled_as_a_form_is_read_as_json(ssh, api_server):
    """curl -d sends JSON as a form; Vault reads it as JSON, and so do we."""
    status, _, _ = raw_request(
        api_server,
        "POST",
        f"{ssh.path}/roles/curl",
        json.dumps(OTP_ROLE).encode(),
        {
            "X-Vault-Token": api_server.root_token,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )

    assert status == 204
    assert ssh.request("GET", "roles/curl").json["data"]["cidr_list"] == (
        "192.0.2.0/24"
    )


def test_errors_unknown_parameters_are_ignored_with_a_warning_naming_them(otp_role):
    reply = otp_role.request(
        "POST", "creds/otp1", {"ip": "192.0.2.10", "foo": 1, "bar": "x"}
    )

    assert reply.status == 200
    assert reply.json["warnings"] == [
        "Endpoint ignored these unrecognized parameters: [bar foo]"
    ]


def test_errors_unknown_parameters_warn_even_where_vault_answers_204(ssh):
    """Deliberate: Vault drops the warning with a 204; we answer 200 with it."""
    reply = ssh.request("POST", "roles/r", dict(OTP_ROLE, colour="blue"))

    assert reply.status == 200
    assert reply.json["data"] is None
    assert reply.json["warnings"] == [
        "Endpoint ignored these unrecognized parameters: [colour]"
    ]
    assert ssh.request("GET", "roles/r").status == 200


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "cidr_list",
            ["192.0.2.0/24"],
            'Field validation failed: error converting input for field "cidr_list":'
            " expected a string, got a list",
        ),
        (
            "port",
            "abc",
            'Field validation failed: error converting input for field "port":'
            ' expected an integer, got "abc"',
        ),
        (
            "port",
            True,
            'Field validation failed: error converting input for field "port":'
            " expected an integer, got a boolean",
        ),
        (
            "ttl",
            "3 days",
            "'ttl' must be a duration such as 30m, got '3 days'",
        ),
        (
            "default_user",
            {"name": "alice"},
            "Field validation failed: error converting input for field"
            ' "default_user": expected a string, got an object',
        ),
    ],
)
def test_errors_field_of_the_wrong_type_is_400_naming_it(ssh, field, value, message):
    reply = ssh.request("POST", "roles/typed", dict(OTP_ROLE, **{field: value}))

    assert reply.status == 400
    assert errors(reply) == [message]
    assert ssh.request("GET", "roles/typed").status == 404


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (2**63, "9223372036854775808"),
        (-(2**63) - 1, "-9223372036854775809"),
        ("9" * 50, '"' + "9" * 39 + "..."),
        ("\u0662\u0662", '"\\u0662\\u0662"'),
    ],
    ids=["above-int64", "below-int64", "long-string", "arabic-digits"],
)
def test_errors_integer_outside_int64_or_not_ascii_is_400(ssh, value, shown):
    reply = ssh.request("POST", "roles/int", dict(OTP_ROLE, port=value))

    assert reply.status == 400
    assert errors(reply) == [
        'Field validation failed: error converting input for field "port":'
        f" expected an integer, got {shown}"
    ]
    assert ssh.request("GET", "roles/int").status == 404


def test_errors_list_limit_beyond_int64_is_400(otp_role):
    reply = otp_role.request("LIST", f"roles?limit={10**25}")

    assert reply.status == 400
    assert errors(reply)[0].startswith(
        'Field validation failed: error converting input for field "limit"'
    )


def test_errors_help_query_describes_the_path(otp_role):
    reply = otp_role.request("GET", "roles/otp1?help=1")

    assert reply.status == 200
    assert reply.json["help"].startswith(f"## PATH: {otp_role.path}/roles/otp1")
    assert "default_user" in reply.json["help"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1e400, "'ttl' must be a duration such as 30m, got inf"),
        (
            10**20,
            "'ttl' must be at most 9223372036 seconds (about 292 years), got"
            " 100000000000000000000",
        ),
        (
            "999999999999d",
            "'ttl' must be at most 9223372036 seconds (about 292 years), got"
            " 86399999999913600",
        ),
        (
            "9" * 5000,
            "'ttl' must be at most 9223372036 seconds (about 292 years), got "
            + "9" * 40
            + "...",
        ),
        (
            "9" * 400 + "h",
            "'ttl' must be at most 9223372036 seconds (about 292 years), got '"
            + "9" * 39
            + "...",
        ),
        ("\u0661\u0662", "'ttl' must be a duration such as 30m, got '\u0661\u0662'"),
        ("\u0661\u0662s", "'ttl' must be a duration such as 30m, got '\u0661\u0662s'"),
    ],
    ids=[
        "infinity",
        "huge-int",
        "huge-days",
        "5000-digits",
        "float-overflow",
        "arabic-digits",
        "arabic-digits-unit",
    ],
)
def test_errors_out_of_range_durations_are_400_not_500(ssh, value, message):
    reply = ssh.request("POST", "roles/ttl", dict(OTP_ROLE, ttl=value))

    assert reply.status == 400
    assert errors(reply) == [message]
    assert ssh.request("GET", "roles/ttl").status == 404


def _raw_http(server, data):
    """Send raw bytes on a fresh connection; return everything until it closes."""
    host, port = server.addr.rsplit("//", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def test_errors_chunked_body_over_the_limit_is_413(ssh, api_server):
    """A chunked body is held to the same limit as one with a Content-Length."""
    body = b'{"otp": "verify-echo-request"}' + b" " * (3 * 1024 * 1024)
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(part), part)
        for part in (body[i : i + 65536] for i in range(0, len(body), 65536))
    )
    answer = _raw_http(
        api_server,
        b"POST /v1/" + ssh.path.encode() + b"/verify HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + chunks + b"0\r\n\r\n",
    )

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"request body is larger than the 1048576-byte limit" in answer


def test_errors_raw_surrogate_bytes_in_a_body_are_400(ssh, api_server):
    """Bytes that are no UTF-8 (a lone surrogate's encoding) never reach a handler."""
    status, _, reply = raw_request(
        api_server, "POST", f"{ssh.path}/verify", b'{"otp": "\xed\xa0\x80"}'
    )

    assert status == 400
    assert reply["errors"][0].startswith("failed to decode JSON input: ")


def test_errors_head_is_a_read_and_never_writes(ssh, api_server):
    """HEAD answers a read's status without a body; it never creates anything."""
    token = {"X-Vault-Token": api_server.root_token}
    body = json.dumps(OTP_ROLE).encode()

    path = f"{ssh.path}/roles/h"
    status, _, reply = raw_request(api_server, "HEAD", path, body, token)
    health, _, _ = raw_request(api_server, "HEAD", "sys/health", b"", token)

    assert (status, reply) == (404, None)
    assert health == 200
    assert ssh.request("GET", "roles/h").status == 404


def test_errors_double_slash_is_a_404_not_a_redirect(api_server):
    status, headers, reply = raw_request(api_server, "GET", "/sys/health")

    assert status == 404
    assert "Location" not in headers
    assert reply == {"errors": []}


def test_errors_control_characters_in_a_path_cannot_forge_log_lines(api_server):
    status, _, _ = raw_request(api_server, "GET", "sys/x%0aFORGED%0d")

    assert status in (403, 404)
    lines = api_server.log_text().splitlines()
    assert not any(line.startswith("FORGED") for line in lines)
