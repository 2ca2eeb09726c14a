"""ACL policies in Vault's HCL and JSON syntax, and what tokens holding them may do."""

import json

import pytest
from api_support import MULTI_DENIED
from api_support import OTP_ROLE
from api_support import errors
from api_support import new_mount
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

pytestmark = pytest.mark.xdist_group("api_policies")

# A policy as Vault's documentation writes them: comments, globs, '+', deny.
VAULT_POLICY = """
# Operators of the ssh engine at {mount}/
path "{mount}/roles/*" {{
  capabilities = ["create", "read", "update", "delete", "list"]
}}

// Anyone holding this may issue credentials for any role ...
path "{mount}/creds/+" {{
  capabilities = ["update"]
}}

/* ... except the admin role. */
path "{mount}/creds/admin" {{
  capabilities = ["deny"]
}}

path "sys/mounts" {{
  capabilities = ["read"]
}}
"""


def write_policy(server, name, text):
    """Write an ACL policy (asserting 204)."""
    reply = server.request("PUT", f"sys/policies/acl/{name}", {"policy": text})
    assert reply.status == 204, reply.text


def token_for(server, *policies):
    """Create a token holding `policies` and return it."""
    reply = server.request("POST", "auth/token/create", {"policies": list(policies)})
    assert reply.status == 200, reply.text
    return reply.json["auth"]["client_token"]


def test_policies_hcl_policy_from_vault_loads_unchanged(ssh):
    text = VAULT_POLICY.format(mount=ssh.path)
    write_policy(ssh.server, f"ops-{ssh.path}", text)

    reply = ssh.server.request("GET", f"sys/policies/acl/ops-{ssh.path}")

    assert reply.status == 200
    assert reply.json["data"]["name"] == f"ops-{ssh.path}"
    assert reply.json["data"]["policy"] == text


def test_policies_hcl_policy_grants_what_it_says(ssh):
    write_policy(ssh.server, f"ops-{ssh.path}", VAULT_POLICY.format(mount=ssh.path))
    token = token_for(ssh.server, f"ops-{ssh.path}")

    write = ssh.request("POST", "roles/web", OTP_ROLE, token=token)
    ssh.write_role("admin")

    assert write.status == 204
    assert ssh.request("GET", "roles/web", token=token).status == 200
    assert ssh.request("LIST", "roles", token=token).status == 200
    assert ssh.creds("web", token=token).status == 200
    denied = ssh.request("POST", "creds/admin", {"ip": "192.0.2.1"}, token=token)
    assert (denied.status, errors(denied)) == (403, [MULTI_DENIED])
    assert ssh.server.request("GET", "sys/mounts", token=token).status == 200
    assert ssh.server.request("GET", "sys/policies/acl", token=token).status == 403


def test_policies_json_policy_works_like_hcl(ssh):
    text = json.dumps(
        {"path": {f"{ssh.path}/creds/otp_role": {"capabilities": ["update"]}}}
    )
    write_policy(ssh.server, f"json-{ssh.path}", text)
    ssh.write_role("otp_role")
    token = token_for(ssh.server, f"json-{ssh.path}")

    assert ssh.creds("otp_role", token=token).status == 200
    assert ssh.request("GET", "roles/otp_role", token=token).status == 403


def test_policies_old_policy_shorthand_is_understood(ssh):
    write_policy(
        ssh.server,
        f"old-{ssh.path}",
        f'path "{ssh.path}/roles/*" {{ policy = "read" }}',
    )
    ssh.write_role("r")
    token = token_for(ssh.server, f"old-{ssh.path}")

    assert ssh.request("GET", "roles/r", token=token).status == 200
    assert ssh.request("POST", "roles/r", OTP_ROLE, token=token).status == 403


def test_policies_token_limited_to_one_role_issues_there_and_nowhere_else(ssh):
    other_mount = new_mount(ssh.server)
    for mount in (ssh, other_mount):
        mount.write_role("otp_role")
        mount.write_role("other")
    write_policy(
        ssh.server,
        f"otp-only-{ssh.path}",
        f'path "{ssh.path}/creds/otp_role" {{\n  capabilities = ["update"]\n}}\n',
    )
    token = token_for(ssh.server, f"otp-only-{ssh.path}")

    issued = ssh.creds("otp_role", token=token)

    assert issued.json["lease_id"].startswith(f"{ssh.path}/creds/otp_role/")
    refused = [
        ssh.request("POST", "creds/other", {"ip": "192.0.2.1"}, token=token),
        ssh.request("GET", "roles/otp_role", token=token),
        ssh.request("POST", "roles/otp_role", OTP_ROLE, token=token),
        ssh.request("LIST", "roles", token=token),
        ssh.request("POST", "lookup", {"ip": "192.0.2.1"}, token=token),
        ssh.request("GET", "config/zeroaddress", token=token),
        ssh.request("POST", "keys/k", {"key": "x"}, token=token),
        other_mount.request("POST", "creds/otp_role", {"ip": "192.0.2.1"}, token=token),
        ssh.server.request("GET", "sys/mounts", token=token),
        ssh.server.request("POST", "sys/mounts/x", {"type": "ssh"}, token=token),
    ]
    assert [reply.status for reply in refused] == [403] * len(refused)
    assert ssh.verify(issued.json["data"]["key"]).status == 200


def test_policies_list_is_checked_on_the_path_with_a_trailing_slash(ssh):
    """Vault checks LIST roles as roles/, so a roles/* rule allows it."""
    write_policy(
        ssh.server,
        f"lister-{ssh.path}",
        f'path "{ssh.path}/roles/*" {{ capabilities = ["list"] }}',
    )
    ssh.write_role("r")
    token = token_for(ssh.server, f"lister-{ssh.path}")

    for method, path in (
        ("LIST", "roles"),
        ("LIST", "roles/"),
        ("GET", "roles?list=true"),
    ):
        reply = ssh.request(method, path, token=token)
        assert reply.status == 200, (method, path, reply.text)
        assert reply.json["data"]["keys"] == ["r"]


@pytest.mark.parametrize("capabilities", [["update"], ["create", "update"]])
def test_policies_role_writes_need_update_as_in_vault(ssh, capabilities):
    """The roles path has no existence check in Vault: every write is an update."""
    write_policy(
        ssh.server,
        f"writer-{ssh.path}",
        f'path "{ssh.path}/roles/*" {{ capabilities = {json.dumps(capabilities)} }}',
    )
    token = token_for(ssh.server, f"writer-{ssh.path}")

    created = ssh.request("POST", "roles/new", OTP_ROLE, token=token)
    updated = ssh.request("POST", "roles/new", OTP_ROLE, token=token)

    assert (created.status, updated.status) == (204, 204)


def test_policies_create_alone_does_not_allow_role_writes(ssh):
    write_policy(
        ssh.server,
        f"creator-{ssh.path}",
        f'path "{ssh.path}/roles/*" {{ capabilities = ["create"] }}',
    )
    token = token_for(ssh.server, f"creator-{ssh.path}")

    reply = ssh.request("POST", "roles/new", OTP_ROLE, token=token)

    assert reply.status == 403
    assert ssh.request("GET", "roles/new").status == 404


def test_policies_most_specific_rule_wins(ssh):
    write_policy(
        ssh.server,
        f"layers-{ssh.path}",
        f'path "{ssh.path}/*" {{ capabilities = ["read", "update"] }}\n'
        f'path "{ssh.path}/roles/*" {{ capabilities = ["read"] }}\n',
    )
    ssh.write_role("r")
    token = token_for(ssh.server, f"layers-{ssh.path}")

    assert ssh.creds("r", token=token).status == 200
    assert ssh.request("GET", "roles/r", token=token).status == 200
    assert ssh.request("POST", "roles/r", OTP_ROLE, token=token).status == 403


def test_policies_deny_in_one_policy_wins_over_a_grant_in_another(ssh):
    write_policy(
        ssh.server,
        f"grant-{ssh.path}",
        f'path "{ssh.path}/creds/r" {{ capabilities = ["update"] }}',
    )
    write_policy(
        ssh.server,
        f"deny-{ssh.path}",
        f'path "{ssh.path}/creds/r" {{ capabilities = ["deny"] }}',
    )
    ssh.write_role("r")
    token = token_for(ssh.server, f"grant-{ssh.path}", f"deny-{ssh.path}")

    assert ssh.request("POST", "creds/r", {"ip": "192.0.2.1"}, token=token).status == (
        403
    )


def test_policies_keys_are_root_protected(ssh):
    """keys/ needs root or 'sudo', as the original docs say (Vault 0.6+ dropped it)."""
    write_policy(
        ssh.server,
        f"keys-{ssh.path}",
        f'path "{ssh.path}/keys/*" {{ capabilities = ["create", "update", "read"] }}',
    )
    write_policy(
        ssh.server,
        f"keys-sudo-{ssh.path}",
        f'path "{ssh.path}/keys/*" {{ capabilities = ["create", "update", "sudo"] }}',
    )
    plain = token_for(ssh.server, f"keys-{ssh.path}")
    sudo = token_for(ssh.server, f"keys-sudo-{ssh.path}")
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )

    without_sudo = ssh.request("POST", "keys/admin", {"key": pem}, token=plain)
    with_sudo = ssh.request("POST", "keys/admin", {"key": pem}, token=sudo)
    by_root = ssh.request("POST", "keys/admin2", {"key": pem})

    assert (without_sudo.status, errors(without_sudo)) == (403, [MULTI_DENIED])
    assert with_sudo.status == 204
    assert by_root.status == 204
    assert ssh.request("GET", "keys/admin", token=plain).status == 403


def test_policies_verify_needs_no_token(otp_role):
    otp = otp_role.otp("otp1")

    assert otp_role.request("POST", "verify", {"otp": otp}, token=None).status == 200


def test_policies_deleting_a_policy_takes_its_grants_away(ssh):
    name = f"temp-{ssh.path}"
    write_policy(
        ssh.server, name, f'path "{ssh.path}/roles/*" {{ capabilities = ["read"] }}'
    )
    ssh.write_role("r")
    token = token_for(ssh.server, name)
    assert ssh.request("GET", "roles/r", token=token).status == 200

    deleted = ssh.server.request("DELETE", f"sys/policies/acl/{name}")

    assert deleted.status == 204
    assert ssh.request("GET", "roles/r", token=token).status == 403
    assert ssh.server.request("GET", f"sys/policies/acl/{name}").status == 404


def test_policies_list_includes_the_built_in_ones(api_server):
    write_policy(api_server, "listed-one", 'path "a/*" { capabilities = ["read"] }')

    reply = api_server.request("LIST", "sys/policies/acl")

    assert reply.status == 200
    keys = reply.json["data"]["keys"]
    assert {"default", "root", "listed-one"} <= set(keys)
    assert keys == sorted(keys)


def test_policies_default_policy_lets_a_token_look_itself_up(api_server):
    token = token_for(api_server, "default")

    assert api_server.request("GET", "auth/token/lookup-self", token=token).status == (
        200
    )
    assert api_server.request("GET", "sys/mounts", token=token).status == 403


@pytest.mark.parametrize("name", ["root", "default"])
def test_policies_built_in_policies_cannot_be_changed(api_server, name):
    reply = api_server.request(
        "PUT",
        f"sys/policies/acl/{name}",
        {"policy": 'path "*" { capabilities = ["sudo"] }'},
    )

    assert reply.status == 400
    assert errors(reply) == [f"the '{name}' policy is built in and cannot be changed"]


BAD_POLICIES = [
    ("", "missing 'policy': the policy text in HCL or JSON"),
    (
        'path "a" { capabilities = ["read"] ',
        "failed to parse policy 'bad': line 1: missing closing brace",
    ),
    (
        'path "a" { capabilities = ["fly"] }',
        "policy 'bad': path 'a' has unknown capability 'fly'; expected some of"
        " ['create', 'delete', 'deny', 'list', 'patch', 'read', 'sudo', 'update']",
    ),
    (
        'path "a" { capabilities = "read" }',
        "policy 'bad': path 'a': 'capabilities' must be a list",
    ),
    (
        'path "a" { policy = "admin" }',
        "policy 'bad': path 'a' has policy 'admin'; expected one of ['deny', 'read',"
        " 'sudo', 'write']",
    ),
    (
        'path "a" {\n  capabilities = ["update"]\n  max_wrapping_ttl = "1h"\n}',
        "policy 'bad': path 'a' uses 'max_wrapping_ttl', which this server does"
        " not enforce; remove it",
    ),
    (
        'path "a" { capabilites = ["read"] }',
        "policy 'bad': path 'a' has unknown keys ['capabilites']; expected some of"
        " ['allowed_parameters', 'capabilities', 'comment', 'denied_parameters',"
        " 'policy', 'required_parameters']",
    ),
    (
        'path "a" {\n  capabilities = ["update"]\n  allowed_parameters = {\n'
        '    "ip" = "192.0.2.1"\n  }\n}',
        "policy 'bad': path 'a': 'allowed_parameters' must map parameter names to"
        ' lists of values, such as { "ip" = ["192.0.2.*"] }',
    ),
    (
        'path "a" { capabilities = ["update"] required_parameters = "ip" }',
        "policy 'bad': path 'a': 'required_parameters' must be a list of parameter"
        " names",
    ),
    (
        'paths "a" { capabilities = ["read"] }',
        "policy 'bad': unknown top-level keys ['paths']",
    ),
    ('{"path": [1]}', "policy 'bad': 'path' must be blocks of path rules"),
]


@pytest.mark.parametrize(("text", "message"), BAD_POLICIES)
def test_policies_bad_policy_text_is_400_and_not_stored(api_server, text, message):
    reply = api_server.request("PUT", "sys/policies/acl/bad", {"policy": text})

    assert reply.status == 400
    assert errors(reply) == [message]
    assert api_server.request("GET", "sys/policies/acl/bad").status == 404


@pytest.mark.parametrize("rule", ["roles", "roles/", "roles/*", "rol*"])
def test_policies_list_is_allowed_by_the_rules_vault_accepts(ssh, rule):
    """Vault checks a LIST of roles/ against an exact rule with or without the
    slash, then globs without it, then globs with it."""
    name = f"list-{ssh.path}-{rule.strip('/*')}"
    write_policy(
        ssh.server,
        name,
        f'path "{ssh.path}/{rule}" {{ capabilities = ["list"] }}',
    )
    ssh.write_role("r")
    token = token_for(ssh.server, name)

    for method, path in (("LIST", "roles"), ("GET", "roles/?list=true")):
        reply = ssh.request(method, path, token=token)
        assert reply.status == 200, (rule, method, path, reply.text)


def test_policies_exact_rule_for_listing_policies_works(api_server):
    """The rule Vault's docs give for listing policies has no trailing slash."""
    write_policy(
        api_server,
        "policy-lister",
        'path "sys/policies/acl" { capabilities = ["list"] }',
    )
    token = token_for(api_server, "policy-lister")

    reply = api_server.request("LIST", "sys/policies/acl", token=token)

    assert reply.status == 200
    assert "policy-lister" in reply.json["data"]["keys"]


def test_policies_exact_rule_without_slash_grants_only_list_on_the_slash_path(ssh):
    write_policy(
        ssh.server,
        f"mounts-{ssh.path}",
        f'path "sys/mounts/{ssh.path}" {{ capabilities = ["read", "delete"] }}',
    )
    token = token_for(ssh.server, f"mounts-{ssh.path}")

    slashed = ssh.server.request("DELETE", f"sys/mounts/{ssh.path}/", token=token)

    assert slashed.status == 403
    assert ssh.server.request("GET", f"sys/mounts/{ssh.path}", token=token).status == (
        200
    )


def parameter_token(ssh, body):
    """Write a policy on <mount>/creds/otp1 with `body` options; return a token."""
    name = f"params-{ssh.path}-{abs(hash(body)) % 10**8}"
    write_policy(
        ssh.server,
        name,
        f'path "{ssh.path}/creds/otp1" {{\n  capabilities = ["update"]\n{body}\n}}\n',
    )
    return token_for(ssh.server, name)


def creds_status(ssh, token, **body):
    """Ask for creds on otp1 with `body`; return the status."""
    return ssh.request("POST", "creds/otp1", body, token=token).status


def test_policies_allowed_parameters_limit_values_with_globs(otp_role):
    """A Vault policy restricting the host and user loads and is enforced."""
    otp_role.write_role("otp1", allowed_users="*")
    token = parameter_token(
        otp_role,
        '  allowed_parameters = {\n    "ip" = ["192.0.2.1*", "*.77"]\n'
        '    "username" = ["alice", "bob"]\n  }',
    )

    assert creds_status(otp_role, token, ip="192.0.2.10", username="alice") == 200
    assert creds_status(otp_role, token, ip="192.0.2.77", username="bob") == 200
    assert creds_status(otp_role, token, ip="192.0.2.1") == 200
    assert creds_status(otp_role, token, ip="192.0.2.20", username="alice") == 403
    assert creds_status(otp_role, token, ip="192.0.2.10", username="root") == 403
    assert creds_status(otp_role, token, ip="192.0.2.10", colour="blue") == 403


def test_policies_allowed_parameters_star_admits_other_parameters(otp_role):
    otp_role.write_role("otp1", allowed_users="*")
    token = parameter_token(
        otp_role,
        '  allowed_parameters = {\n    "*" = []\n    "username" = ["alice"]\n  }',
    )

    assert creds_status(otp_role, token, ip="192.0.2.10", username="alice") == 200
    assert creds_status(otp_role, token, ip="192.0.2.10", username="bob") == 403
    assert creds_status(otp_role, token, ip="192.0.2.99") == 200


def test_policies_denied_parameters_refuse_values(otp_role):
    otp_role.write_role("otp1", allowed_users="*")
    token = parameter_token(
        otp_role, '  denied_parameters = {\n    "username" = ["root", "adm*"]\n  }'
    )

    assert creds_status(otp_role, token, ip="192.0.2.10", username="bob") == 200
    assert creds_status(otp_role, token, ip="192.0.2.10", username="root") == 403
    assert creds_status(otp_role, token, ip="192.0.2.10", username="admin") == 403


def test_policies_denied_star_refuses_any_data(otp_role):
    token = parameter_token(otp_role, '  denied_parameters = {\n    "*" = []\n  }')

    assert creds_status(otp_role, token, ip="192.0.2.10") == 403


def test_policies_required_parameters_must_be_sent(otp_role):
    otp_role.write_role("otp1", allowed_users="*")
    token = parameter_token(otp_role, '  required_parameters = ["username"]')

    assert creds_status(otp_role, token, ip="192.0.2.10") == 403
    assert creds_status(otp_role, token, ip="192.0.2.10", username="alice") == 200


def test_policies_parameter_options_of_two_policies_are_merged(otp_role):
    """As in Vault: allowed values add up, and an empty list allows any value."""
    names = []
    for ip in ("192.0.2.10", "192.0.2.11"):
        names.append(f"one-ip-{otp_role.path}-{ip}")
        write_policy(
            otp_role.server,
            names[-1],
            f'path "{otp_role.path}/creds/otp1" {{\n  capabilities = ["update"]\n'
            f'  allowed_parameters = {{\n    "ip" = ["{ip}"]\n  }}\n}}\n',
        )
    both = token_for(otp_role.server, *names)
    write_policy(
        otp_role.server,
        f"any-ip-{otp_role.path}",
        f'path "{otp_role.path}/creds/otp1" {{\n  capabilities = ["update"]\n'
        '  allowed_parameters = {\n    "ip" = []\n  }\n}\n',
    )
    widened = token_for(otp_role.server, names[0], f"any-ip-{otp_role.path}")

    assert creds_status(otp_role, both, ip="192.0.2.10") == 200
    assert creds_status(otp_role, both, ip="192.0.2.11") == 200
    assert creds_status(otp_role, both, ip="192.0.2.12") == 403
    assert creds_status(otp_role, widened, ip="192.0.2.12") == 200


def test_policies_parameter_options_load_from_json_too(otp_role):
    text = json.dumps(
        {
            "path": {
                f"{otp_role.path}/creds/otp1": {
                    "capabilities": ["update"],
                    "allowed_parameters": {"ip": ["192.0.2.10"]},
                }
            }
        }
    )
    write_policy(otp_role.server, f"json-params-{otp_role.path}", text)
    token = token_for(otp_role.server, f"json-params-{otp_role.path}")

    assert creds_status(otp_role, token, ip="192.0.2.10") == 200
    assert creds_status(otp_role, token, ip="192.0.2.11") == 403
