"""Pure formatting and argument rules of the CLI, checked directly."""

import pytest
from openvault.cli.output import go_value
from openvault.cli.output import human_duration
from openvault.cli.ssh import user_gave_port


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (59, "59s"),
        (90, "1m30s"),
        (600, "10m"),
        (3600, "1h"),
        (3601, "1h1s"),
        (3660, "1h1m"),
        (2764800, "768h"),
        ("30", "30s"),
        ("soon", "soon"),
    ],
)
def test_output_human_duration_matches_vault(seconds, shown):
    """Durations print as Vault's CLI prints them."""
    assert human_duration(seconds) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "<nil>"),
        (True, "true"),
        (["a", "b"], "[a b]"),
        ({"b": 1, "a": [2]}, "map[a:[2] b:1]"),
        (22, "22"),
    ],
)
def test_output_go_value_matches_vault_tables(value, shown):
    """Values print as Go's %v does in Vault's tables."""
    assert go_value(value) == shown


@pytest.mark.parametrize(
    ("args", "gave"),
    [
        (["-p", "2200"], True),
        (["-p2200"], True),
        (["-tp", "2200"], True),
        (["-v", "-p", "2200", "ls"], True),
        (["-l", "p", "ls"], False),
        (["-o", "Port=1", "ls", "-p"], False),
        (["ls", "-p"], False),
        (["--", "-p"], False),
        ([], False),
    ],
)
def test_ssh_user_gave_port_reads_ssh_options(args, gave):
    """Only a real -p option of ssh, not one in the remote command, counts."""
    assert user_gave_port(args) is gave
