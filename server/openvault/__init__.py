"""openvault: an SSH credential server speaking the Vault SSH backend API."""

__version__ = "0.1.0"
