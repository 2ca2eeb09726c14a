"""The install script that adds and removes dynamic keys in authorized_keys."""

from importlib import resources

DEFAULT_INSTALL_SCRIPT = (
    resources.files("openvault").joinpath("install_script.sh").read_text()
)
