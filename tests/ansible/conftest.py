"""Collection fixtures (from tests/unit/collection_fixtures.py) for these tests."""

from unit.collection_fixtures import collection_imports  # noqa: F401
from unit.collection_fixtures import collection_tree  # noqa: F401
from unit.collection_fixtures import play  # noqa: F401
from unit.collection_fixtures import ssh_server  # noqa: F401
