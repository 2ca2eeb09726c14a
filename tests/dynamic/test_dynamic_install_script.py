"""The default install script on a real host: DYN-02 and DYN-03 of cases.md.

The script runs as the admin user, as the server runs it (it raises itself
through sudo), against users made for each test on the shared host.
"""

import concurrent.futures
import secrets

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from dynamic_support import ADMIN
from dynamic_support import INSTALL_SCRIPT
from dynamic_support import authorized_keys
from dynamic_support import key_file
from dynamic_support import ssh

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("dynamic-install_script")]

SCRIPT_ON_HOST = f"/home/{ADMIN}/openvault-install.sh"
# Root without the capabilities that let it read other users' files: a read
# that fails although the script runs as root.
NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search"]
NO_DAC += ["--bounding-set=-dac_override,-dac_read_search", "--"]


def new_key():
    """Return (OpenSSH private key text, public "ssh-ed25519 AAAA..." line)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


def public_key():
    """Return a fresh public key line."""
    return new_key()[1]


@pytest.fixture
def host(shared_lab):
    """The shared host with the default script in the admin's home."""
    host = shared_lab.host
    host.write_file(SCRIPT_ON_HOST, INSTALL_SCRIPT.read_text(), owner=ADMIN, mode=0o755)
    return host


def run_script(host, action, key_line, path, *, user=ADMIN, wrapper=(), home=None):
    """Upload a key file as the server does, run the script; return the result."""
    home = home or f"/home/{ADMIN}"
    key_path = f"{home}/.openvault-{secrets.token_hex(4)}.pub"
    owner = user if user is not None else "root"
    host.write_file(key_path, key_line, owner=owner, mode=0o600)
    result = host.run(
        [*wrapper, SCRIPT_ON_HOST, action, key_path, path], user=user, check=False
    )
    result.key_path = key_path
    return result


def keys_path(host, user):
    return f"{host.home(user)}/.ssh/authorized_keys"


def set_keys(host, user, content, mode=0o600):
    """Give `user` exactly this authorized_keys content."""
    host.make_dir(f"{host.home(user)}/.ssh", owner=user, mode=0o700)
    host.write_file(keys_path(host, user), content, owner=user, mode=mode)


def test_install_script_keeps_keys_of_a_file_without_final_newline(host, add_user):
    """DYN-02 1 and 8: the new key gets its own line; the file ends in a newline."""
    user = add_user("nonl")
    old_a, old_b, new = public_key(), public_key() + " b@laptop", public_key()
    set_keys(host, user, f"{old_a}\n{old_b}")

    result = run_script(host, "install", new, keys_path(host, user))

    assert result.returncode == 0, result.stderr
    assert authorized_keys(host, user).decode() == f"{old_a}\n{old_b}\n{new}\n"


def test_install_script_writes_options_before_the_key(host, add_user):
    """DYN-02 2: options, one space, then key type and base64."""
    user = add_user("opts")
    key = public_key()

    result = run_script(
        host, "install", f"no-port-forwarding {key}", keys_path(host, user)
    )

    assert result.returncode == 0, result.stderr
    assert authorized_keys(host, user).decode() == f"no-port-forwarding {key}\n"


def test_install_script_installs_a_key_once(host, add_user):
    """DYN-02 3: installing twice leaves one copy; new options replace old ones."""
    user = add_user("once")
    own, key = public_key(), public_key()
    set_keys(host, user, f"{own}\n")
    path = keys_path(host, user)

    for line in (key, key, f"no-pty {key}"):
        result = run_script(host, "install", line, path)
        assert result.returncode == 0, result.stderr

    assert authorized_keys(host, user).decode() == f"{own}\nno-pty {key}\n"


def test_install_script_uninstall_removes_every_line_of_the_key(host, add_user):
    """DYN-02 4: all lines of the key go, with or without options and comment."""
    user = add_user("uninst")
    own, other, key = public_key(), public_key(), public_key()
    lines = ["# mine", own, key, f"{other} other@host", f"{key} vault comment"]
    lines += [f'command="x" {key}', ""]
    set_keys(host, user, "\n".join(lines) + "\n")

    result = run_script(host, "uninstall", key, keys_path(host, user))

    assert result.returncode == 0, result.stderr
    kept = f"# mine\n{own}\n{other} other@host\n\n"
    assert authorized_keys(host, user).decode() == kept


def test_install_script_uninstall_keeps_a_missing_final_newline(host, add_user):
    """Only the key's lines change: a last line without newline stays so."""
    user = add_user("keepnl")
    own, key = public_key(), public_key()
    set_keys(host, user, f"{key}\n{own}")

    result = run_script(host, "uninstall", key, keys_path(host, user))

    assert result.returncode == 0, result.stderr
    assert authorized_keys(host, user).decode() == own


def test_install_script_creates_ssh_directory_and_file(host, add_user, tmp_path):
    """DYN-02 5: no .ssh at all; install makes it, owned by the user, and it works."""
    user = add_user("nossh")
    assert not host.exists(f"{host.home(user)}/.ssh")
    private, public = new_key()

    result = run_script(host, "install", public, keys_path(host, user))

    assert result.returncode == 0, result.stderr
    modes = host.run(
        ["stat", "-c", "%U %a", f"{host.home(user)}/.ssh", keys_path(host, user)]
    ).stdout.splitlines()
    assert modes == [f"{user} 700", f"{user} 600"]
    login = ssh(host, user, key_file(tmp_path, private), "id", "-un")
    assert login.stdout.strip() == user, login.stderr


@pytest.mark.parametrize("action", ["", "remove", "INSTALL", "install-all"])
def test_install_script_refuses_other_actions(host, add_user, action):
    """DYN-02 6: any other action exits non-zero and changes nothing."""
    user = add_user("action")
    before = f"{public_key()}\n"
    set_keys(host, user, before)

    result = run_script(host, action, public_key(), keys_path(host, user))

    assert result.returncode != 0
    assert "first argument must be install or uninstall" in result.stderr
    assert authorized_keys(host, user).decode() == before


def test_install_script_deletes_the_uploaded_key_file(host, add_user):
    """DYN-02 7: the key file is gone after install and after uninstall."""
    user = add_user("keyfile")
    key = public_key()

    for action in ("install", "uninstall"):
        result = run_script(host, action, key, keys_path(host, user))
        assert result.returncode == 0, result.stderr
        assert not host.exists(result.key_path)


def test_install_script_keeps_owner_and_mode(host, add_user):
    """A 0640 file owned by the user stays 0640 and the user's."""
    user = add_user("mode")
    set_keys(host, user, f"{public_key()}\n", mode=0o640)
    key = public_key()

    for action in ("install", "uninstall"):
        result = run_script(host, action, key, keys_path(host, user))
        assert result.returncode == 0, result.stderr
        stat = host.run(["stat", "-c", "%U %G %a", keys_path(host, user)])
        assert stat.stdout.split() == [user, user, "640"]


def test_install_script_concurrent_installs_lose_no_line(host, add_user):
    """Ten installs at once for one user: all ten keys are in the file."""
    user = add_user("many")
    keys = [public_key() for _ in range(10)]
    path = keys_path(host, user)

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda k: run_script(host, "install", k, path), keys))

    assert [r.returncode for r in results] == [0] * 10, [r.stderr for r in results]
    assert sorted(authorized_keys(host, user).decode().splitlines()) == sorted(keys)


def test_install_script_refuses_a_symlinked_authorized_keys(host, add_user):
    """Root never writes through a link the user planted."""
    user = add_user("link")
    victim = f"/etc/openvault-victim-{user}"
    host.write_file(victim, "precious\n")
    host.make_dir(f"{host.home(user)}/.ssh", owner=user, mode=0o700)
    host.run(["ln", "-s", victim, keys_path(host, user)])

    result = run_script(host, "install", public_key(), keys_path(host, user))

    assert result.returncode != 0
    assert "symbolic link" in result.stderr
    assert host.read_text(victim) == "precious\n"


def test_install_script_rejects_a_key_file_without_a_key(host, add_user):
    """A key file that holds no key changes nothing and is kept."""
    user = add_user("nokey")
    before = f"{public_key()}\n"
    set_keys(host, user, before)

    for line in ("", "not a key", f"{public_key()}\n{public_key()}"):
        result = run_script(host, "install", line, keys_path(host, user))
        assert result.returncode != 0
        assert authorized_keys(host, user).decode() == before


def test_install_script_uninstall_reads_a_file_the_admin_cannot(host, add_user):
    """DYN-03: .ssh is 0700; only the installed key goes, the user's own stays."""
    user = add_user("private")
    own, key = public_key() + " own@laptop", public_key()
    set_keys(host, user, f"{own}\n{key}\n")
    path = keys_path(host, user)
    assert host.run(["cat", path], user=ADMIN, check=False).returncode != 0

    result = run_script(host, "uninstall", key, path)

    assert result.returncode == 0, result.stderr
    assert authorized_keys(host, user).decode() == f"{own}\n"


def test_install_script_fails_closed_when_the_read_fails(host, add_user):
    """DYN-03: a read that fails, even as root, leaves the file as it was."""
    user = add_user("unread")
    before = f"{public_key()}\n{public_key()}\n"
    set_keys(host, user, before)
    # Enterable and writable, so the script gets as far as reading the file.
    host.run(["chmod", "0733", f"{host.home(user)}/.ssh"])

    result = run_script(
        host,
        "uninstall",
        public_key(),
        keys_path(host, user),
        user=None,
        wrapper=NO_DAC,
        home="/root",
    )

    assert result.returncode != 0
    assert "cannot read" in result.stderr
    assert "left unchanged" in result.stderr
    assert authorized_keys(host, user).decode() == before


def test_install_script_fails_when_sudo_is_refused(host, add_user):
    """Started by a user without sudo rights, the script stops at once."""
    user = add_user("nosudo")
    before = f"{public_key()}\n"
    set_keys(host, user, before)
    host.run(["chmod", "0755", f"/home/{user}"])

    result = run_script(
        host,
        "install",
        public_key(),
        keys_path(host, user),
        user=user,
        home=f"/home/{user}",
    )

    assert result.returncode != 0
    assert authorized_keys(host, user).decode() == before
