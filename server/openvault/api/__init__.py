"""HTTP layer: one route under /v1/ that dispatches the way Vault's router does.

Mount paths are chosen at run time (`ssh/`, `ssh-short/`, ...), so backend
paths cannot be Flask rules; each area lists its paths in a route table
instead, and this module resolves a request to a table entry, authenticates
it, checks its ACL, converts its fields, calls the handler and renders
Vault's envelope.

The Flask app routes `/v1/<path>` here. Plain API requests (the methods
below, a path without empty segments) skip Flask's request context on the
way in (`wsgi`): on the OTP creds and verify path that context cost a sixth
of the server's CPU. Both ways run the same `dispatch` on a werkzeug
Request, so they answer alike.
"""

import json
import logging
import time
import uuid
from urllib.parse import parse_qsl

from flask import Blueprint
from flask import current_app
from flask import request as flask_request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from openvault import audit as audit_format
from openvault.api import sys_audit
from openvault.api import sys_health
from openvault.api import sys_leases
from openvault.api import sys_mounts
from openvault.api import sys_policies
from openvault.api import token
from openvault.api.fields import convert
from openvault.api.routing import Call
from openvault.api.routing import Reply
from openvault.api.routing import match
from openvault.api.ssh import ROUTES as SSH_ROUTES
from openvault.errors import BadRequest
from openvault.errors import MethodNotAllowed
from openvault.errors import NotFound
from openvault.errors import PayloadTooLarge
from openvault.errors import PermissionDenied
from openvault.errors import Unavailable
from openvault.errors import UnsupportedMediaType
from openvault.errors import UnsupportedPath
from openvault.errors import VaultError
from openvault.errors import multierror
from openvault.policy import ACL
from openvault.policy import DEFAULT_POLICY
from openvault.policy import PARAMETER_OPERATIONS
from openvault.policy import parse_cached
from openvault.storage import cache
from openvault.storage import queries
from openvault.storage.db import connect_thread
from openvault.tokens import lookup as lookup_token
from openvault.tokens import policies_of

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__)

SYSTEM_ROUTES = (
    sys_health.ROUTES
    + sys_mounts.ROUTES
    + sys_leases.ROUTES
    + sys_policies.ROUTES
    + sys_audit.ROUTES
    + token.ROUTES
)
BACKENDS = {"ssh": SSH_ROUTES}
# PATCH is served only to refuse it as Vault does: no path here supports it.
METHODS = ["GET", "POST", "PUT", "DELETE", "LIST", "PATCH"]
MERGE_PATCH = "application/merge-patch+json"
JSON = "application/json"
CAPABILITY = {"read": "read", "list": "list", "delete": "delete", "update": "update"}
# What Vault's query flags (?list=, ?help=) take for true, as Go's ParseBool:
# hvac sends list=True.
TRUE_WORDS = frozenset({"1", "t", "T", "true", "TRUE", "True"})
# A body over the limit is read and dropped up to this many times the limit,
# so that its client sees the 413 (see _drain).
DRAIN_FACTOR = 4
DRAIN_CHUNK = 64 * 1024


@bp.route("/v1/<path:path>", methods=METHODS)
def view(path):
    """Serve an API request that came through Flask's routing."""
    state = current_app.extensions["openvault"]
    return dispatch(state, flask_request, path, state.config.max_request_size)


def wsgi(state, flask_app):
    """Return the WSGI entry point: plain API requests straight to dispatch."""
    fast_methods = frozenset(METHODS)
    limit = state.config.max_request_size

    def application(environ, start_response):
        path_info = environ.get("PATH_INFO", "")
        if (
            path_info.startswith("/v1/")
            and len(path_info) > 4
            and "//" not in path_info
            and environ.get("REQUEST_METHOD") in fast_methods
        ):
            try:
                connect_thread()
                request = Request(environ)
                response = dispatch(state, request, request.path[4:], limit)
            except Exception:
                logger.exception("internal error serving %s", path_info)
                response = _error(500, ["internal error; see the server log"])
            return response(environ, start_response)
        return flask_app(environ, start_response)

    return application


def dispatch(state, request, path, limit):
    """Serve one API request; `limit` caps its body, in bytes."""
    started = time.perf_counter()
    request.max_content_length = limit
    request_id = str(uuid.uuid4())
    call = None
    resolved = None
    note = ""
    shown = path
    try:
        cache.pin()
        operation = _operation(request)
        routed = _routed_path(path, operation)
        resolved = _resolve(routed)
        call, reply = _serve(state, request, routed, operation, resolved, request_id)
        note = reply.log
        response = _render(reply, request_id)
    except VaultError as exc:
        response = _error(exc.status, exc.errors)
        if resolved is None:
            # A path no route knows may be anything, a token pasted into a
            # URL included: the log gets only its first segments.
            shown = _known_part(path)
        if getattr(exc, "call", None) is not None:
            _audit_response(state, exc.call, None, exc)
        else:
            _audit_refused(state, request, path, request_id, exc)
    except Exception:
        logger.exception("internal error serving %s %s", request.method, path)
        response = _error(500, ["internal error; see the server log"])
    finally:
        cache.unpin()
    if not shown.isprintable():
        # A decoded %0a in a path must not start a line of its own.
        shown = shown.encode("unicode_escape").decode("ascii")
    # One line per request; a handler's note on what it did joins that line.
    logger.info(
        "%s /v1/%s %d %.1fms%s",
        request.method,
        shown,
        response.status_code,
        (time.perf_counter() - started) * 1000,
        f": {note}" if note else "",
    )
    return response


def _known_part(path):
    parts = path.split("/")
    return "/".join(parts[:2]) + ("/..." if len(parts) > 2 else "")


def _routed_path(path, operation):
    if operation == "list" and not path.endswith("/"):
        # Vault lists at the path with a trailing slash: that is the path ACL
        # rules are matched against, so "ssh/roles/*" allows LIST ssh/roles.
        return path + "/"
    return path


def _serve(state, request, path, operation, resolved, request_id):
    """Serve a request whose path has been resolved (None: no route knows it)."""
    if operation == "patch" and request.mimetype != MERGE_PATCH:
        raise UnsupportedMediaType(
            f"PATCH requires Content-Type of {MERGE_PATCH},"
            f" provided {request.content_type or ''}"
        )
    route = resolved[0] if resolved else None
    token = None
    token_id = _token_header(request)
    if route is None or not route.unauthenticated:
        token = _authenticate(state, request, token_id)
    if resolved is None:
        raise _not_found(path)
    route, params, mount, relative = resolved
    if operation == "help":
        handler, raw = _help, {}
    else:
        handler = route.operations.get(operation)
        if handler is None:
            message = "unsupported operation"
            raise MethodNotAllowed(
                message if route.unauthenticated else multierror(message)
            )
        raw = _body(request, operation)
    data, unknown = _convert(route, raw)
    call = Call(
        operation=operation,
        path=path,
        params=params,
        data=data,
        route=route,
        state=state,
        mount=mount,
        token=token,
        token_id=token_id if token is not None else "",
        remote_addr=request.remote_addr or "",
        request_id=request_id,
    )
    _audit_request(state, call, raw)
    try:
        # Help is always allowed, as in Vault; it is audited like the rest.
        if not route.unauthenticated and operation != "help":
            _authorize(call, token, raw)
        reply = handler(call) or Reply(status=204)
    except VaultError as exc:
        exc.call = call
        raise
    if unknown:
        # Vault only warns when it sends a body; we always do, so a typo in a
        # parameter name never passes silently.
        reply.warnings.append(
            f"Endpoint ignored these unrecognized parameters: [{' '.join(unknown)}]"
        )
        if reply.status == 204:
            reply.status = 200
    _audit_response(state, call, reply, None)
    return call, reply


def _operation(request):
    method = request.method
    if request.args.get("help") in TRUE_WORDS:
        return "help"
    if method == "LIST" or (method == "GET" and request.args.get("list") in TRUE_WORDS):
        return "list"
    if method in ("GET", "HEAD"):
        # HEAD is a read whose body is dropped: never a write, as in Vault.
        return "read"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete"
    return "update"


def _resolve(path):
    """Return (route, params, mount, relative path) or None."""
    found = match(SYSTEM_ROUTES, path)
    if found:
        return found[0], found[1], None, path
    mount = queries.mount_for_path(path)
    if mount is None:
        return None
    relative = path[len(mount.path) + 1 :]
    found = match(BACKENDS[mount.type], relative)
    if not found:
        return None
    return found[0], found[1], mount, relative


def _not_found(path):
    if queries.mount_for_path(path) is not None:
        return UnsupportedPath()
    return NotFound(f'no handler for route "{path}". route entry not found.')


def _authenticate(state, request, token_id):
    if not state.initialized():
        raise Unavailable("server is not initialized; run 'openvault operator init'")
    found = lookup_token(state.seal, token_id)
    if found is None:
        raise PermissionDenied()
    if request.headers.get("X-Vault-Wrap-TTL"):
        raise BadRequest("response wrapping is not supported by this server")
    namespace = request.headers.get("X-Vault-Namespace", "").strip("/")
    if namespace and namespace != "root":
        raise BadRequest(
            f"namespaces are not supported by this server, got '{namespace}'"
        )
    return found


def _authorize(call, token, raw):
    policies = policies_of(token)
    if "root" in policies:
        return
    needed = CAPABILITY[call.operation]
    found = _acl(policies).permissions(call.path, listing=call.operation == "list")
    granted = found.capabilities if found is not None else frozenset()
    if call.operation == "update" and call.route.exists is not None:
        if not call.route.exists(call):
            needed = "create"
    if "deny" in granted or needed not in granted:
        raise PermissionDenied(multierror("permission denied"))
    if call.route.sudo and "sudo" not in granted:
        raise PermissionDenied(multierror("permission denied"))
    # allowed_parameters, denied_parameters and required_parameters look at
    # the request as sent, unknown parameters included, as Vault's do.
    if call.operation in PARAMETER_OPERATIONS and not found.allows(raw):
        raise PermissionDenied(multierror("permission denied"))


def _acl(names):
    # One ACL per set of policies, rebuilt only after a policy changed.
    return cache.cached("acl", tuple(names), lambda: _build_acl(names))


def _build_acl(names):
    rule_sets = [parse_cached("default", DEFAULT_POLICY)] if "default" in names else []
    for policy in queries.policies(names):
        rule_sets.append(parse_cached(policy.name, policy.text))
    return ACL(rule_sets)


def _body(request, operation):
    if operation in ("read", "list"):
        return {
            key: value
            for key, value in request.args.items()
            if key not in ("list", "help")
        }
    limit = request.max_content_length
    try:
        raw = request.get_data(cache=False)
        # A chunked body is cut at the limit without an error: one more byte
        # tells whether there was more.
        if len(raw) >= limit and request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()
    except RequestEntityTooLarge:
        _drain(request, limit * DRAIN_FACTOR)
        raise PayloadTooLarge(
            f"request body is larger than the {limit}-byte limit"
        ) from None
    if not raw.strip():
        return {}
    # curl -d sends JSON labelled as a form; Vault reads it as JSON, and only a
    # body that does not start like a JSON object or array is taken as a form.
    is_form = request.mimetype == "application/x-www-form-urlencoded"
    if is_form and not raw.lstrip().startswith((b"{", b"[")):
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
    try:
        # Strict UTF-8 first: json.loads of bytes lets raw surrogate bytes
        # through, which no later step can encode.
        body = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"failed to decode JSON input: {exc}") from None
    except ValueError:
        # Python refuses integers of more than 4300 digits.
        raise BadRequest("failed to decode JSON input: a number is too long") from None
    except RecursionError:
        raise BadRequest(
            "failed to decode JSON input: arrays or objects are nested too deeply"
        ) from None
    if not isinstance(body, dict):
        raise BadRequest("failed to decode JSON input: the body must be a JSON object")
    if b"\\u" in raw:
        _check_surrogates(body)
    return body


def _drain(request, most):
    """Read and drop up to `most` bytes of a refused body.

    A client still sending its body when the answer comes and the
    connection closes gets a broken pipe instead of the 413; reading the
    rest first lets it read the answer. Beyond `most` the connection is
    simply closed.
    """
    stream = request.environ["wsgi.input"]
    while most > 0:
        chunk = stream.read(min(DRAIN_CHUNK, most))
        if not chunk:
            return
        most -= len(chunk)


def _check_surrogates(body):
    # A \ud800 escape without its pair decodes to a string that cannot be
    # encoded as UTF-8, so storing or logging it would fail later.
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(
            "failed to decode JSON input: a string holds an unpaired UTF-16"
            " surrogate escape such as \\ud800"
        ) from None
    except RecursionError:
        raise BadRequest(
            "failed to decode JSON input: arrays or objects are nested too deeply"
        ) from None


def _convert(route, raw):
    data = {}
    unknown = []
    for name, value in raw.items():
        declared = route.fields.get(name)
        if declared is None:
            unknown.append(name)
        elif value is not None:
            data[name] = convert(name, declared, value)
    return data, sorted(unknown)


def _help(call):
    route, path = call.route, call.path
    text = route.synopsis
    if route.description:
        text += "\n\n" + route.description.strip()
    if route.fields:
        lines = [
            f"  {name} ({spec.type}): {spec.description}"
            for name, spec in sorted(route.fields.items())
        ]
        text += "\n\nParameters:\n" + "\n".join(lines)
    return Reply(top_level={"help": f"## PATH: {path}\n\n{text}\n", "see_also": None})


class Answer:
    """A finished API answer, itself a WSGI app: status, headers, body bytes.

    Much lighter than a werkzeug Response, which every request built only to
    serialise it; Flask turns it into its own Response when the request came
    through Flask's routing (HEAD included).
    """

    __slots__ = ("status_code", "_head", "_body")

    def __init__(self, status, body=b"", content_type=JSON, no_store=True):
        self.status_code = status
        self._body = body
        head = [("Cache-Control", "no-store")] if no_store else []
        head.append(("Content-Type", content_type))
        if status != 204:
            head.append(("Content-Length", str(len(body))))
        self._head = head

    def __call__(self, environ, start_response):
        reason = HTTP_STATUS_CODES.get(self.status_code, "UNKNOWN").upper()
        start_response(f"{self.status_code} {reason}", self._head)
        return [self._body]


def _render(reply, request_id):
    if reply.status == 204:
        return Answer(204)
    if reply.text is not None:
        return Answer(reply.status, reply.text.encode(), "text/plain", no_store=False)
    if reply.top_level is not None and reply.data is None and not reply.warnings:
        body = dict(reply.top_level)
    else:
        body = {
            "request_id": request_id,
            "lease_id": reply.lease_id,
            "renewable": reply.renewable,
            "lease_duration": reply.lease_duration,
            "data": reply.data,
            "wrap_info": None,
            "warnings": reply.warnings or None,
            "auth": reply.auth,
        }
        if reply.top_level:
            body.update(reply.top_level)
    return Answer(reply.status, (json.dumps(body) + "\n").encode())


def _error(status, errors):
    return Answer(status, (json.dumps({"errors": errors}) + "\n").encode())


def _audit_request(state, call, raw):
    paths = state.audit_paths()
    if not paths:
        return
    log = state.audit
    entry = {
        "time": audit_format.timestamp(),
        "type": "request",
        "auth": log.auth_block(call.token),
        "request": {
            "id": call.request_id,
            "operation": call.operation,
            "mount_type": call.mount.type if call.mount else "system",
            "client_token": log.hash(call.token_id) if call.token else "",
            "path": call.path,
            "data": log.scrub(raw) if raw else None,
            "remote_address": call.remote_addr,
        },
    }
    log.write(paths, entry)


def _audit_response(state, call, reply, error):
    paths = state.audit_paths()
    if not paths:
        return
    log = state.audit
    response = {}
    if reply is not None:
        response = {"status": reply.status}
        if reply.data is not None:
            response["data"] = log.scrub(reply.data)
        if reply.lease_id:
            response["secret"] = {"lease_id": reply.lease_id}
        if reply.auth:
            response["auth"] = log.scrub(reply.auth)
        if reply.warnings:
            response["warnings"] = reply.warnings
    entry = {
        "time": audit_format.timestamp(),
        "type": "response",
        "auth": log.auth_block(call.token),
        "request": {
            "id": call.request_id,
            "operation": call.operation,
            "path": call.path,
            "remote_address": call.remote_addr,
        },
        "response": response,
    }
    if error is not None:
        entry["error"] = "; ".join(error.errors) or error.__class__.__name__
        entry["response"] = {"status": error.status}
    extra = reply.audit if reply is not None else getattr(error, "audit", None)
    if extra:
        entry.update(extra)
    log.write(paths, entry)


def _audit_refused(state, request, path, request_id, error):
    """Audit a request refused before a handler saw it: bad token, path or body.

    A request with a wrong token leaves a trail like any other, so probing
    for tokens or paths shows up in the audit log.
    """
    paths = state.audit_paths()
    if not paths:
        return
    log = state.audit
    token_id = _token_header(request)
    summary = {
        "id": request_id,
        "operation": _operation(request),
        "path": path,
        "remote_address": request.remote_addr or "",
    }
    request_entry = dict(summary, client_token=log.hash(token_id) if token_id else "")
    log.write(
        paths,
        {
            "time": audit_format.timestamp(),
            "type": "request",
            "auth": None,
            "request": request_entry,
        },
    )
    log.write(
        paths,
        {
            "time": audit_format.timestamp(),
            "type": "response",
            "auth": None,
            "request": summary,
            "response": {"status": error.status},
            "error": "; ".join(error.errors) or error.__class__.__name__,
        },
    )


def _token_header(request):
    value = request.headers.get("X-Vault-Token", "")
    if not value:
        bearer = request.headers.get("Authorization", "")
        if bearer.lower().startswith("bearer "):
            value = bearer[7:].strip()
    return value
