"""The openvault command-line client, speaking the Vault HTTP API."""
