"""Token and policy commands through the real CLI."""

import json

from cli_support import table
from cli_support import table_keys


def test_tokens_create_shows_token_and_policies(cli, ov_server):
    """token create prints Vault's token rows; the token works."""
    created = cli("token", "create", "-policy=default", "-ttl=1h")

    assert created.code == 0, created.err
    assert table_keys(created.out)[:4] == [
        "token",
        "token_accessor",
        "token_duration",
        "token_renewable",
    ]
    rows = table(created.out)
    assert rows["token_duration"] == "1h"
    assert '"default"' in rows["policies"]
    whoami = ov_server.request("GET", "auth/token/lookup-self", token=rows["token"])
    assert whoami.status == 200, whoami.text


def test_tokens_lookup_never_prints_the_token(cli, cli_env, ov_server):
    """token lookup shows the token's properties but not the token itself."""
    token = cli("token", "create", "-policy=default", "-field=token").out

    shown = cli("token", "lookup", env=cli_env | {"VAULT_TOKEN": token})
    as_json = cli(
        "token", "lookup", "-format=json", env=cli_env | {"VAULT_TOKEN": token}
    )

    assert shown.code == 0, shown.err
    assert token not in shown.out + shown.err
    assert token not in as_json.out
    assert "default" in table(shown.out)["policies"]
    assert json.loads(as_json.out)["data"]["policies"]


def test_tokens_revoke_self_ends_the_token(cli, cli_env):
    """token revoke -self revokes the token in use."""
    token = cli("token", "create", "-policy=default", "-field=token").out
    env = cli_env | {"VAULT_TOKEN": token}

    revoked = cli("token", "revoke", "-self", env=env)
    after = cli("token", "lookup", env=env)

    assert revoked.code == 0, revoked.err
    assert revoked.out == "Success! Revoked token (if it existed)\n"
    assert after.code == 2
    assert "Code: 403" in after.err


def test_tokens_policy_write_read_from_file_and_stdin(cli, tmp_path):
    """policy write takes a file or -, and policy read prints the rules."""
    rules = 'path "ssh/creds/otp_key_role" {\n  capabilities = ["update"]\n}\n'
    policy = tmp_path / "otp.hcl"
    policy.write_text(rules)

    from_file = cli("policy", "write", "otp", str(policy))
    from_stdin = cli("policy", "write", "otp2", "-", stdin=rules)
    read_back = cli("policy", "read", "otp2")
    missing = cli("policy", "read", "nosuch")

    assert from_file.code == 0, from_file.err
    assert from_file.out == "Success! Uploaded policy: otp\n"
    assert from_stdin.code == 0, from_stdin.err
    assert read_back.out == rules
    assert missing.code == 2
