#!/bin/bash
# openvault default install script: adds or removes one public key line in a
# user's authorized_keys file. The contract, which a role's own install_script
# must keep too (see docs/dynamic-keys.md):
#
#   $1  install | uninstall
#   $2  file holding the public key line: options (if any), one space, key
#       type, one space, base64 key; deleted once it has been read
#   $3  absolute path of the target user's authorized_keys file
#
# Exit status 0 means done (uninstalling a key that is not there is done).
# Any other status means authorized_keys was not changed; stderr says why.
#
# The server runs this script as root (`sudo -n`); started by another user,
# it runs itself again through `sudo -n`, as Vault's script used sudo.
set -euo pipefail
umask 077

action="${1:-}"
key_file="${2:-}"
auth_keys="${3:-}"

fail() {
    echo "install script: $*" >&2
    exit 1
}

case "$action" in
install | uninstall) ;;
*) fail "first argument must be install or uninstall, got '$action'" ;;
esac
[ -n "$key_file" ] || fail "missing the public key file (second argument)"
case "$auth_keys" in
/*) ;;
*) fail "third argument must be the absolute path of authorized_keys, got '$auth_keys'" ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    exec sudo -n -- "$BASH" "$0" "$@"
fi
command -v flock >/dev/null || fail "flock (util-linux) is needed on this host"

# The key: exactly one line. Lines are matched by the base64 key alone, so
# options and comments do not matter when a key is removed.
[ -f "$key_file" ] || fail "public key file '$key_file' is not a regular file"
key_line=$(head -c 65536 -- "$key_file" | tr -d '\r')
[ "$(printf '%s\n' "$key_line" | wc -l)" -eq 1 ] ||
    fail "public key file '$key_file' must hold one line"
blob=$(printf '%s\n' "$key_line" | awk '{
    for (i = 1; i < NF; i++)
        if ($i ~ /^(ssh|ecdsa-sha2|sk)-[A-Za-z0-9@.-]+$/ &&
            $(i + 1) ~ /^AAAA[A-Za-z0-9+\/]+=*$/) {
            print $(i + 1)
            exit
        }
}')
[ -n "$blob" ] || fail "public key file '$key_file' holds no key type and base64 key"
rm -f -- "$key_file"

ssh_dir=$(dirname -- "$auth_keys")
keys_name=$(basename -- "$auth_keys")
home=$(dirname -- "$ssh_dir")
[ -d "$home" ] || fail "home directory '$home' does not exist"
# Root writes inside a directory its user controls: never through a link.
[ ! -L "$ssh_dir" ] || fail "'$ssh_dir' is a symbolic link; refusing to follow it"
[ ! -L "$auth_keys" ] || fail "'$auth_keys' is a symbolic link; refusing to follow it"

# Create the directory and the file before taking the lock, owned by the
# home directory's owner: upstream opened its lock inside a missing .ssh.
if [ "$action" = install ]; then
    owner=$(stat -c %u:%g -- "$home")
    if [ ! -e "$ssh_dir" ]; then
        if mkdir -m 0700 -- "$ssh_dir" 2>/dev/null; then
            chown -- "$owner" "$ssh_dir"
        fi
    fi
    [ -d "$ssh_dir" ] && [ ! -L "$ssh_dir" ] || fail "cannot create '$ssh_dir'"
    if [ ! -e "$auth_keys" ] && [ ! -L "$auth_keys" ]; then
        # Made aside with its owner and mode, then linked into place: ln
        # fails rather than replace a file a concurrent install just made.
        new=$(mktemp -- "$ssh_dir/.$keys_name.new.XXXXXX")
        chown -- "$owner" "$new"
        chmod 0600 -- "$new"
        ln -T -- "$new" "$auth_keys" 2>/dev/null || true
        rm -f -- "$new"
    fi
fi

# One lock per authorized_keys file, in a directory only root can write, so
# concurrent installs for one user never lose each other's lines.
lock_dir=/run/openvault
[ -d /run ] || lock_dir=/var/lock/openvault
mkdir -p -m 0700 -- "$lock_dir"
[ -d "$lock_dir" ] && [ ! -L "$lock_dir" ] || fail "cannot use lock directory '$lock_dir'"
lock="$lock_dir/$(printf '%s' "$auth_keys" | sha256sum | cut -c1-32).lock"
exec 9>"$lock"
flock -w 30 9 || fail "timed out waiting for the lock on '$auth_keys'"

if [ ! -e "$ssh_dir" ] && [ "$action" = uninstall ]; then
    echo "key not present: '$ssh_dir' does not exist"
    exit 0
fi
# From here on the directory is pinned: renaming or replacing it cannot
# redirect the writes below.
cd -P -- "$ssh_dir" || fail "cannot enter '$ssh_dir'"
[ ! -L "$keys_name" ] || fail "'$auth_keys' is a symbolic link; refusing to follow it"
if [ ! -e "$keys_name" ]; then
    [ "$action" = uninstall ] || fail "'$auth_keys' could not be created"
    echo "key not present: '$auth_keys' does not exist"
    exit 0
fi
[ -f "$keys_name" ] || fail "'$auth_keys' is not a regular file"

tmp=$(mktemp -- ".$keys_name.openvault.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT

# Keep a missing final newline as it was when only lines are removed.
nonl=0
if [ "$action" = uninstall ] && [ -n "$(tail -c 1 -- "$keys_name")" ]; then
    nonl=1
fi

# Read as root. A failed read stops here: writing back what could not be
# read would delete every key in the file. awk exits 10 when no line held
# the key, 2 when it cannot read the file.
status=0
awk -v blob="$blob" -v nonl="$nonl" '{
    line = $0
    sub(/\r$/, "", line)
    n = split(line, field, /[ \t]+/)
    for (i = 1; i <= n; i++)
        if (field[i] == blob) {
            removed++
            last_kept = 0
            next
        }
    printf "%s%s", (kept++ ? "\n" : ""), $0
    last_kept = 1
}
END {
    if (kept && !(nonl && last_kept))
        printf "\n"
    exit (removed ? 0 : 10)
}' "$keys_name" >"$tmp" || status=$?
case "$status" in
0) ;;
10)
    if [ "$action" = uninstall ]; then
        echo "key not present in '$auth_keys'"
        exit 0
    fi
    ;;
*) fail "cannot read '$auth_keys'; it was left unchanged" ;;
esac
if [ "$action" = install ]; then
    printf '%s\n' "$key_line" >>"$tmp"
fi

if cmp -s -- "$tmp" "$keys_name"; then
    echo "nothing to change in '$auth_keys'"
    exit 0
fi
chown --reference="$keys_name" -- "$tmp"
chmod --reference="$keys_name" -- "$tmp"
mv -f -- "$tmp" "$keys_name"
if command -v restorecon >/dev/null; then
    restorecon -- "$keys_name" 2>/dev/null || true
fi
echo "key ${action}ed: '$auth_keys'"
