"""Fixtures for the collection's unit tests (defined in collection_fixtures)."""

from unit.collection_fixtures import collection_imports  # noqa: F401
from unit.collection_fixtures import collection_tree  # noqa: F401
from unit.collection_fixtures import play  # noqa: F401
from unit.collection_fixtures import ssh_server  # noqa: F401
