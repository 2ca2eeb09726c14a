"""Shared pytest configuration: fixture plugins under tests/support/."""

pytest_plugins = ["support.hosts", "support.server"]
