# Copyright (c) 2026, openvault.ssh maintainers
# Mozilla Public License 2.0 (see LICENSE or https://mozilla.org/MPL/2.0/)
# SPDX-License-Identifier: MPL-2.0
"""HTTP client for the SSH secret backend API, shared by modules and plugins.

FOR INTERNAL COLLECTION USE ONLY: names here may change in any release.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
from urllib.error import HTTPError
from urllib.error import URLError
from urllib.parse import quote

from ansible.module_utils.urls import open_url

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30
_MULTIERROR = re.compile(r"^\d+ errors? occurred:\s*\n\t\* (.*)$", re.DOTALL)


class VaultSSHError(Exception):
    """A failed request; the message is the server's own error text."""

    def __init__(self, message, status=None, errors=None, path=None, method=None):
        super().__init__(message)
        self.status = status
        self.errors = list(errors or [])
        self.path = path
        self.method = method

    def describe(self):
        """Return 'METHOD path failed (HTTP status): message' for users."""
        request = " ".join(part for part in (self.method, self.path) if part)
        status = f" (HTTP {self.status})" if self.status else ""
        if not request:
            return str(self)
        return f"{request} failed{status}: {self}"


def _quote_path(path):
    """Quote each segment of an API path, keeping '/', '@' and '.' readable."""
    return quote(path.strip("/"), safe="/@.:-_")


def _unwrap(text):
    """Return the items of a Go multierror text ("1 error occurred: * x")."""
    match = _MULTIERROR.match(text)
    if not match:
        return [text]
    return [item.strip() for item in match.group(1).split("\n\t* ") if item.strip()]


def _server_message(status, errors, path):
    """Return the server's error text, or a plain fallback when it sent none."""
    texts = [item for error in errors for item in _unwrap(str(error).strip()) if item]
    if texts:
        return "; ".join(texts)
    if status == 404:
        return f"nothing found at '{path}'"
    return f"HTTP {status} from '{path}'"


class Client:
    """One server connection: address, token, mount point and TLS settings."""

    def __init__(
        self,
        url,
        token=None,
        mount_point="ssh",
        validate_certs=True,
        ca_cert=None,
        timeout=DEFAULT_TIMEOUT,
        warn=None,
    ):
        if not url:
            raise VaultSSHError(
                "no server address: set 'url' or the VAULT_ADDR environment variable"
            )
        self.url = url.rstrip("/")
        self.token = token
        self.mount_point = (mount_point or "ssh").strip("/")
        self.validate_certs = validate_certs
        self.ca_cert = ca_cert
        self.timeout = timeout or DEFAULT_TIMEOUT
        self._warn = warn or logger.warning

    # Transport

    def request(self, method, path, body=None, authenticated=True):
        """Send one request to /v1/<path>; return the decoded reply.

        A 204 reply is ``{}``. A 200 reply whose body is not JSON is returned as
        ``{"raw": <text>}`` with a warning. Errors raise VaultSSHError.
        """
        path = _quote_path(path)
        headers = {"Accept": "application/json", "X-Vault-Request": "true"}
        if authenticated and self.token:
            headers["X-Vault-Token"] = self.token
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"

        try:
            reply = open_url(
                f"{self.url}/v1/{path}",
                data=data,
                headers=headers,
                method=method,
                validate_certs=self.validate_certs,
                ca_path=self.ca_cert,
                timeout=self.timeout,
                follow_redirects="safe",
                use_netrc=False,
            )
            status = reply.status
            text = reply.read().decode("utf-8", errors="replace")
        except HTTPError as error:
            raise self._http_error(error, method, path) from None
        except (URLError, OSError, ssl.SSLError) as error:
            reason = getattr(error, "reason", error)
            raise VaultSSHError(
                f"cannot reach {self.url}: {reason}", path=path, method=method
            ) from None

        logger.debug("%s %s answered %s", method, path, status)
        if status == 204 or not text.strip():
            return {}
        try:
            return json.loads(text)
        except ValueError:
            self._warn(f"the reply to {method} {path} is not JSON; returning it raw")
            return {"raw": text}

    def _http_error(self, error, method, path):
        """Turn an HTTP error reply into a VaultSSHError carrying its errors."""
        try:
            text = error.read().decode("utf-8", errors="replace")
        except Exception:
            text = ""
        errors = []
        try:
            errors = json.loads(text).get("errors") or []
        except (ValueError, AttributeError):
            if text.strip():
                errors = [text.strip()]
        message = _server_message(error.code, errors, path)
        return VaultSSHError(
            message, status=error.code, errors=errors, path=path, method=method
        )

    def _mount_path(self, *parts):
        """Join parts under this client's mount point."""
        return "/".join([self.mount_point] + [part.strip("/") for part in parts])

    def _read(self, path):
        """GET path and return its data, or None when it does not exist."""
        try:
            return self.request("GET", path).get("data") or {}
        except VaultSSHError as error:
            if error.status == 404:
                return None
            raise

    # Roles

    def read_role(self, name):
        """Return the role's fields, or None when there is no such role."""
        return self._read(self._mount_path("roles", name))

    def write_role(self, name, params):
        """Create or replace the role; return the reply ({} for a 204)."""
        return self.request("POST", self._mount_path("roles", name), params)

    def delete_role(self, name):
        """Delete the role (the server answers 204 also for a missing one)."""
        return self.request("DELETE", self._mount_path("roles", name))

    def list_roles(self):
        """Return {name: key_info} for every role on the mount."""
        try:
            data = self.request("LIST", self._mount_path("roles")).get("data") or {}
        except VaultSSHError as error:
            if error.status == 404:
                return {}
            raise
        info = data.get("key_info") or {}
        return {name: info.get(name, {}) for name in data.get("keys") or []}

    # Keys

    def read_key(self, name):
        """Return the registered key's {fingerprint, key_type}, or None.

        The fingerprint read is an openvault extension; a Vault server answers
        405 here, which raises VaultSSHError with status 405.
        """
        return self._read(self._mount_path("keys", name))

    def write_key(self, name, key):
        """Register or replace the named private key."""
        return self.request("POST", self._mount_path("keys", name), {"key": key})

    def delete_key(self, name):
        """Delete the named key."""
        return self.request("DELETE", self._mount_path("keys", name))

    # Mounts

    def read_mount(self, path):
        """Return the mount's {type, description, config}, or None if absent."""
        path = path.strip("/")
        mounts = self.request("GET", "sys/mounts")
        mounts = mounts.get("data") or mounts
        entry = mounts.get(path + "/")
        if not isinstance(entry, dict):
            return None
        return entry

    def read_tune(self, path):
        """Return the mount's effective {default_lease_ttl, max_lease_ttl}."""
        reply = self.request("GET", f"sys/mounts/{path.strip('/')}/tune")
        return reply.get("data") or {}

    def tune_mount(self, path, config):
        """Change the mount's TTLs or description."""
        return self.request("POST", f"sys/mounts/{path.strip('/')}/tune", config)

    def enable_mount(self, path, description=None, config=None):
        """Mount the ssh backend at path."""
        body = {"type": "ssh"}
        if description is not None:
            body["description"] = description
        if config:
            body["config"] = config
        return self.request("POST", f"sys/mounts/{path.strip('/')}", body)

    def disable_mount(self, path):
        """Unmount path, revoking its leases."""
        return self.request("DELETE", f"sys/mounts/{path.strip('/')}")

    # Credentials

    def issue_creds(self, role, ip, username=None):
        """Create a credential; return the whole reply (data and lease)."""
        body = {"ip": ip}
        if username:
            body["username"] = username
        return self.request("POST", self._mount_path("creds", role), body)

    def lookup(self, ip):
        """Return the names of the roles that serve ip."""
        reply = self.request("POST", self._mount_path("lookup"), {"ip": ip})
        return (reply.get("data") or {}).get("roles") or []

    # Leases

    def lookup_lease(self, lease_id):
        """Return the lease's data, or None when it is unknown or revoked."""
        try:
            reply = self.request("PUT", "sys/leases/lookup", {"lease_id": lease_id})
        except VaultSSHError as error:
            # Vault answers 400 "invalid lease" for a lease it does not know.
            if error.status in (400, 404):
                return None
            raise
        return reply.get("data") or {}

    def list_leases(self, prefix):
        """Return the lease ids under prefix, relative to it, sub-paths included."""
        prefix = prefix.strip("/")
        try:
            reply = self.request("LIST", f"sys/leases/lookup/{prefix}/")
        except VaultSSHError as error:
            if error.status in (400, 404):
                return []
            raise
        found = []
        for key in (reply.get("data") or {}).get("keys") or []:
            if key.endswith("/"):
                inner = self.list_leases(f"{prefix}/{key}")
                found.extend(key + sub for sub in inner)
            else:
                found.append(key)
        return found

    def revoke_lease(self, lease_id):
        """Revoke one lease (204 also when it is already gone)."""
        return self.request("PUT", "sys/leases/revoke", {"lease_id": lease_id})

    def revoke_prefix(self, prefix):
        """Revoke every lease under prefix."""
        path = f"sys/leases/revoke-prefix/{prefix.strip('/')}"
        return self.request("PUT", path)


def client_from_options(get, warn=None):
    """Build a Client from an option getter (module params or plugin options)."""
    return Client(
        url=get("url"),
        token=get("token"),
        mount_point=get("mount_point"),
        validate_certs=get("validate_certs") is not False,
        ca_cert=get("ca_cert"),
        timeout=get("timeout"),
        warn=warn,
    )
