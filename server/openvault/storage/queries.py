"""Queries shared by several areas of the server."""

from openvault.storage import cache
from openvault.storage.models import Mount
from openvault.storage.models import Policy


def mount_for_path(path):
    """Return the mount serving `path` (longest matching prefix), or None."""
    segments = path.strip("/").split("/")
    mounts = cache.cached("mounts", None, _all_mounts)
    for n in range(len(segments), 0, -1):
        found = mounts.get("/".join(segments[:n]))
        if found is not None:
            return cache.instance(Mount, found)
    return None


def _all_mounts():
    return {row["path"]: row for row in Mount.select().dicts()}


def policies(names):
    """Return the stored policies among `names`."""
    wanted = [name for name in names if name not in ("root", "default")]
    if not wanted:
        return []
    texts = cache.cached("policies", None, _all_policies)
    return [Policy(name=name, text=texts[name]) for name in wanted if name in texts]


def _all_policies():
    return {row.name: row.text for row in Policy.select()}
