"""ACL policies, in Vault's HCL or JSON syntax.

LIST/GET      sys/policies/acl            names
GET/PUT/DEL   sys/policies/acl/<name>     {"policy": "<text>"}
GET           sys/policy                  names (old API, used by hvac)
GET/PUT/DEL   sys/policy/<name>           {"policy"|"rules": "<text>"}
"""

import logging

from openvault import policy
from openvault.api.routing import Reply
from openvault.api.routing import route
from openvault.errors import BadRequest
from openvault.errors import NotFound
from openvault.storage.models import Policy

logger = logging.getLogger(__name__)

BUILT_IN = ("default", "root")


def list_policies(call):
    """List policy names, built-in ones included."""
    return Reply(data={"keys": _names()})


def list_policies_old(call):
    """List policy names the old API's way: keys and policies, also at the top."""
    names = _names()
    data = {"keys": names, "policies": names}
    return Reply(data=data, top_level=data)


def _names():
    return sorted({p.name for p in Policy.select(Policy.name)} | set(BUILT_IN))


def read_policy(call):
    """Return a policy's name and text (as "policy")."""
    name, text = _policy(call)
    return Reply(data={"name": name, "policy": text})


def read_policy_old(call):
    """Return a policy the old API's way: name and "rules", also at the top."""
    name, text = _policy(call)
    data = {"name": name, "rules": text}
    return Reply(data=data, top_level=data)


def _policy(call):
    name = call.params["name"].lower()
    if name == "default":
        text = policy.DEFAULT_POLICY
    elif name == "root":
        text = ""
    else:
        row = Policy.get_or_none(Policy.name == name)
        if row is None:
            raise NotFound()
        text = row.text
    return name, text


def write_policy(call):
    """Create or replace a policy after checking that it parses."""
    name = call.params["name"].lower()
    if name in BUILT_IN:
        raise BadRequest(f"the '{name}' policy is built in and cannot be changed")
    text = call.get("policy") or call.get("rules") or ""
    if not text.strip():
        raise BadRequest("missing 'policy': the policy text in HCL or JSON")
    policy.parse(name, text)
    Policy.insert(name=name, text=text).on_conflict_replace().execute()
    logger.info("policy written: %s", name)


def delete_policy(call):
    """Delete a policy; tokens holding it lose what it granted."""
    name = call.params["name"].lower()
    if name in BUILT_IN:
        raise BadRequest(f"cannot delete the built-in '{name}' policy")
    Policy.delete().where(Policy.name == name).execute()
    logger.info("policy deleted: %s", name)


FIELDS = {"policy": "string", "rules": "string"}
NAME = r"(?P<name>[\w\-.@]+)"

ROUTES = [
    route(
        r"sys/policies/acl/?",
        list=list_policies,
        read=list_policies,
        synopsis="List ACL policies.",
    ),
    route(
        rf"sys/policies/acl/{NAME}",
        fields=FIELDS,
        read=read_policy,
        update=write_policy,
        delete=delete_policy,
        synopsis="Read, write or delete an ACL policy.",
    ),
    route(r"sys/policy/?", read=list_policies_old, list=list_policies_old),
    route(
        rf"sys/policy/{NAME}",
        fields=FIELDS,
        read=read_policy_old,
        update=write_policy,
        delete=delete_policy,
        synopsis="Read, write or delete an ACL policy (old API).",
    ),
]
