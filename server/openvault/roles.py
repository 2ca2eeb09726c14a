"""Role rules of the ssh backend: which users and addresses a role serves.

The rules, including where this server deliberately differs from Vault:
- `allowed_users` empty means `default_user` only, `*` means anyone, a list
  means those users plus `default_user`.
- A role serves an IP in its `cidr_list`, or any IP when it is listed in
  `config/zeroaddress`; `exclude_cidr_list` always wins, zero-address or not.
- Lookup answers from address ranges stored per block, never by loading and
  testing every role: each process keeps a sorted index of a mount's blocks,
  rebuilt only after a role changes.
"""

import bisect
import functools
import re

import netaddr

from openvault.errors import BadRequest
from openvault.storage import cache
from openvault.storage.models import Mount
from openvault.storage.models import Role
from openvault.storage.models import RoleBlock
from openvault.validate import split_list

USERNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}\$?")


def check_username(field, value):
    """Refuse names that no host would accept as a login name."""
    # fullmatch, not '$': '$' also matches before a trailing newline.
    if not USERNAME.fullmatch(value):
        raise BadRequest(
            f"'{field}' must be a user name such as alice (letters, digits,"
            f" '_', '.', '-', '@'), got {value!r}"
        )
    return value


def resolve_username(role, requested):
    """Return the user the credential is for, or raise why it is not allowed."""
    username = requested or role.default_user
    if not username:
        raise BadRequest("No default username registered. Use 'username' option")
    check_username("username", username)
    allowed = split_list(role.allowed_users)
    if username == role.default_user or allowed == ["*"] or username in allowed:
        return username
    if not allowed:
        raise BadRequest(
            "Username has to be either in allowed users list or has to be a"
            " default username"
        )
    raise BadRequest("Username is not present in allowed users list")


def zero_address_roles(mount):
    """Return the roles listed in the mount's config/zeroaddress."""
    return split_list(mount.zeroaddress)


def forget_zero_address_role(mount, name):
    """Drop a deleted role from the zero-address list (an empty list stays valid)."""
    listed = zero_address_roles(mount)
    if name in listed:
        remaining = ",".join(r for r in listed if r != name)
        Mount.update(zeroaddress=remaining).where(Mount.path == mount.path).execute()
        mount.zeroaddress = remaining


def check_ip(mount, role, ip):
    """Raise unless `role` may issue for `ip` (already canonical)."""
    address = netaddr.IPAddress(ip)
    if address in _ranges(role.exclude_cidr_list):
        raise BadRequest("Error validating IP: IP does not belong to role")
    if role.name in zero_address_roles(mount) or address in _ranges(role.cidr_list):
        return
    if not role.cidr_list:
        raise BadRequest(
            "Error validating IP: IP does not belong to role (the role has no"
            " cidr_list: set cidr_list on the role, or list the role in"
            " config/zeroaddress to serve every address)"
        )
    raise BadRequest("Error validating IP: IP does not belong to role")


class _Ranges:
    """A CIDR list as sorted, merged integer ranges per IP version.

    netaddr's IPSet tests membership by building a network for each prefix
    length; a bisect over the ranges is one comparison per step.
    """

    def __init__(self, cidr_list):
        self.firsts = {4: [], 6: []}
        self.lasts = {4: [], 6: []}
        for block in netaddr.IPSet(split_list(cidr_list)).iter_ipranges():
            self.firsts[block.version].append(block.first)
            self.lasts[block.version].append(block.last)

    def __contains__(self, address):
        value = int(address)
        index = bisect.bisect_right(self.firsts[address.version], value) - 1
        return index >= 0 and value <= self.lasts[address.version][index]


@functools.lru_cache(maxsize=4096)
def _ranges(cidr_list):
    return _Ranges(cidr_list)


def blocks_for(role):
    """Return RoleBlock rows (unsaved) for a role's included and excluded blocks."""
    rows = []
    for excluded, text in ((False, role.cidr_list), (True, role.exclude_cidr_list)):
        for entry in split_list(text):
            network = netaddr.IPNetwork(entry)
            rows.append(
                RoleBlock(
                    mount=role.mount,
                    role=role,
                    excluded=excluded,
                    first=_key(network.first, network.version),
                    last=_key(network.last, network.version),
                )
            )
    return rows


def _key(value, version):
    if version == 4:
        value += 0xFFFF00000000
    return f"{value:032x}"


def address_key(ip):
    """Return the sortable key of a canonical IP address."""
    address = netaddr.IPAddress(ip)
    return _key(int(address), address.version)


def get_role(mount_path, name):
    """Return the role `name` of a mount, or None; cached while roles are unchanged."""
    data = cache.cached(
        "role", (mount_path, name), lambda: _role_data(mount_path, name)
    )
    return None if data is None else cache.instance(Role, data)


def _role_data(mount_path, name):
    return (
        Role.select()
        .where(Role.mount == mount_path, Role.name == name)
        .dicts()
        .get_or_none()
    )


class AddressIndex:
    """A mount's role blocks sorted by first address, for stabbing queries.

    `reach[i]` is the highest last address among blocks 0..i, so a search
    walks down from the last block starting at or before the address and
    stops as soon as no earlier block can still reach it: the cost follows
    the blocks that cover the address, not the number of roles.
    """

    def __init__(self, blocks, names):
        blocks.sort()
        self.firsts = [block[0] for block in blocks]
        self.blocks = blocks
        self.reach = []
        highest = -1
        for _, last, _, _ in blocks:
            highest = max(highest, last)
            self.reach.append(highest)
        self.names = names
        self.ids = {name: role_id for role_id, name in names.items()}

    def covering(self, address):
        """Return (included role ids, excluded role ids) whose blocks hold `address`."""
        included, excluded = set(), set()
        index = bisect.bisect_right(self.firsts, address) - 1
        while index >= 0 and self.reach[index] >= address:
            _, last, role_id, is_excluded = self.blocks[index]
            if last >= address:
                (excluded if is_excluded else included).add(role_id)
            index -= 1
        return included, excluded


def address_index(mount_path):
    """Return the mount's AddressIndex, rebuilt only after a role changed."""
    return cache.cached("address-index", mount_path, lambda: _build_index(mount_path))


def _build_index(mount_path):
    blocks = [
        (int(first, 16), int(last, 16), role_id, bool(excluded))
        for role_id, excluded, first, last in RoleBlock.select(
            RoleBlock.role, RoleBlock.excluded, RoleBlock.first, RoleBlock.last
        )
        .where(RoleBlock.mount == mount_path)
        .tuples()
    ]
    names = dict(
        Role.select(Role.id, Role.name).where(Role.mount == mount_path).tuples()
    )
    return AddressIndex(blocks, names)


def roles_for_ip(mount, ip):
    """Return the names of roles that would really issue for `ip`, sorted."""
    index = address_index(mount.path)
    included, excluded = index.covering(int(address_key(ip), 16))
    names = {index.names[role_id] for role_id in included - excluded}
    for name in zero_address_roles(mount):
        role_id = index.ids.get(name)
        if role_id is not None and role_id not in excluded:
            names.add(name)
    return sorted(names)
