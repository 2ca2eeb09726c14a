"""Test-only callback: save each registered task result as <register>.json."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

RESULTS_ENV = "OPENVAULT_TEST_RESULTS"


class CallbackModule(CallbackBase):
    """Write the result of every task with 'register' to $OPENVAULT_TEST_RESULTS."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "openvault_results"
    CALLBACK_NEEDS_ENABLED = True

    def _save(self, result, **extra):
        """Save one result, without Ansible's internal keys."""
        name = result.task.register
        if isinstance(name, dict):
            # ansible-core 2.19+ keeps register as {variable: expression}.
            name = next(iter(name), None)
        directory = os.environ.get(RESULTS_ENV)
        if not name or not directory:
            return
        data = {
            key: value
            for key, value in result.result.items()
            if not key.startswith("_ansible")
        }
        data.update(extra)
        with open(os.path.join(directory, name + ".json"), "w") as handle:
            json.dump(data, handle, default=str)

    def v2_runner_on_ok(self, result):
        """Save a task that succeeded."""
        self._save(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        """Save a task that failed, marked as the registered variable would be."""
        self._save(result, failed=True)
