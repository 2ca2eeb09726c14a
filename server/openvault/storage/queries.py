"""Queries shared by several areas of the server."""

from openvault.storage.models import Mount
from openvault.storage.models import Policy


def mount_for_path(path):
    """Return the mount serving `path` (longest matching prefix), or None."""
    segments = path.strip("/").split("/")
    candidates = ["/".join(segments[:n]) for n in range(len(segments), 0, -1)]
    mounts = {m.path: m for m in Mount.select().where(Mount.path.in_(candidates))}
    for candidate in candidates:
        if candidate in mounts:
            return mounts[candidate]
    return None


def policies(names):
    """Return the stored policies among `names`."""
    wanted = [name for name in names if name not in ("root", "default")]
    if not wanted:
        return []
    return list(Policy.select().where(Policy.name.in_(wanted)))
