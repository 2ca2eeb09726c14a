"""HTTP client for the Vault API, on the standard library only."""

import http.client
import json
import logging
import os
import pathlib
import ssl
import urllib.error
import urllib.parse
import urllib.request

logger = logging.getLogger(__name__)

DEFAULT_ADDRESS = "https://127.0.0.1:8200"
TIMEOUT_SECONDS = 60


class VaultAPIError(Exception):
    """A request that failed: the server answered with an error status, or
    could not be reached (then ``status`` is None and ``reason`` says why)."""

    def __init__(self, method, url, status, errors=(), raw=None, reason=None):
        super().__init__(method, url, status)
        self.method = method
        self.url = url
        self.status = status
        self.errors = list(errors)
        self.raw = raw
        self.reason = reason

    def __str__(self):
        if self.status is None:
            return f'{self.method.title()} "{self.url}": {self.reason}'
        if self.raw is not None:
            detail = "Raw Message:\n\n" + self.raw
        else:
            detail = "Errors:\n\n" + "\n".join(f"* {e}" for e in self.errors)
        return (
            "Error making API request.\n\n"
            f"URL: {self.method} {self.url}\n"
            f"Code: {self.status}. {detail}"
        )


def parse_bool_env(text):
    """Read a boolean environment value the way Vault does (1, t, true...)."""
    return text.strip().lower() in ("1", "t", "true")


def token_from_environment():
    """Return VAULT_TOKEN, else the contents of ~/.vault-token, else ''."""
    token = os.environ.get("VAULT_TOKEN", "")
    if token:
        return token.strip()
    path = pathlib.Path(os.path.expanduser("~")) / ".vault-token"
    try:
        return path.read_text().strip()
    except OSError:
        return ""


class Client:
    """Send Vault API requests to one server with one token."""

    def __init__(
        self,
        address=None,
        token=None,
        ca_cert=None,
        ca_path=None,
        client_cert=None,
        client_key=None,
        skip_verify=None,
    ):
        self.address = (
            address or os.environ.get("VAULT_ADDR") or DEFAULT_ADDRESS
        ).rstrip("/")
        self.token = token_from_environment() if token is None else token
        if skip_verify is None:
            skip_verify = parse_bool_env(os.environ.get("VAULT_SKIP_VERIFY", ""))
        self._context = self._tls_context(
            ca_cert or os.environ.get("VAULT_CACERT") or None,
            ca_path or os.environ.get("VAULT_CAPATH") or None,
            client_cert or os.environ.get("VAULT_CLIENT_CERT") or None,
            client_key or os.environ.get("VAULT_CLIENT_KEY") or None,
            skip_verify,
        )
        # Limitation: HTTP(S) proxies are not used, even when http_proxy or
        # VAULT_HTTP_PROXY is set; every request goes straight to the address.
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=self._context),
        )

    @staticmethod
    def _tls_context(ca_cert, ca_path, client_cert, client_key, skip_verify):
        context = ssl.create_default_context(cafile=ca_cert, capath=ca_path)
        if client_cert:
            context.load_cert_chain(client_cert, client_key)
        if skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def url(self, path, params=None):
        """Return the full URL of an API path (relative to /v1/)."""
        quoted = urllib.parse.quote(path.lstrip("/"), safe="/@:=,+")
        url = f"{self.address}/v1/{quoted}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        return url

    def request(self, method, path, body=None, params=None, token=True):
        """Send one request; return the decoded JSON reply, or None when the
        server answered with no body (204). Raise VaultAPIError on failure."""
        url = self.url(path, params)
        headers = {"X-Vault-Request": "true"}
        if token and self.token:
            headers["X-Vault-Token"] = self.token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data, headers, method=method)

        logger.debug("%s %s", method, url)
        try:
            with self._opener.open(request, timeout=TIMEOUT_SECONDS) as reply:
                text = reply.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            raise self._api_error(method, url, error) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise VaultAPIError(method, url, None, reason=str(reason)) from None
        except http.client.HTTPException as error:
            # No HTTP answer at all: most often http:// to a TLS port.
            reason = f"the server did not answer in HTTP ({error.__class__.__name__})"
            if url.startswith("http://"):
                reason += "; if it serves HTTPS, use an https:// address"
            raise VaultAPIError(method, url, None, reason=reason) from None

        if not text.strip():
            return None
        return json.loads(text)

    @staticmethod
    def _api_error(method, url, error):
        text = error.read().decode("utf-8", "replace")
        try:
            errors = json.loads(text)["errors"]
            if not isinstance(errors, list):
                raise TypeError("errors is not a list")
        except (ValueError, KeyError, TypeError):
            return VaultAPIError(method, url, error.code, raw=text)
        return VaultAPIError(method, url, error.code, errors)

    def read(self, path, params=None):
        """GET a path; None when the server has nothing there (404)."""
        try:
            return self.request("GET", path, params=params)
        except VaultAPIError as error:
            if error.status == 404:
                return None
            raise

    def list(self, path):
        """List a path's keys with GET ?list=true; None when there are none."""
        if not path.endswith("/"):
            path += "/"
        return self.read(path, params={"list": "true"})

    def write(self, path, body=None):
        """PUT a JSON body to a path and return the reply (None for 204)."""
        return self.request("PUT", path, body or {})

    def delete(self, path):
        """DELETE a path and return the reply (None for 204)."""
        return self.request("DELETE", path)
