#!/bin/bash
# openvault default install script: adds or removes one public key line in a
# user's authorized_keys. Run as the admin user, elevating with sudo.
#
#   $1  install | uninstall
#   $2  file holding the public key line (deleted when the script ends)
#   $3  absolute path of the target user's authorized_keys file
set -euo pipefail

action="${1:-}"
key_file="${2:-}"
auth_keys="${3:-}"

if [ "$action" != install ] && [ "$action" != uninstall ]; then
    echo "first argument must be install or uninstall, got '$action'" >&2
    exit 1
fi
echo "this default script is not ready yet" >&2
exit 1
