"""Fixtures for cluster tests: real tandemd processes on 127.0.0.1.

`cluster_factory(n=3, durability="majority", ...)` builds a Cluster in the
test's temp dir (not started); `cluster` is a started 3-node majority cluster
with a leader. Every process is killed at teardown; when a test fails, the
tail of every node's log is attached to its report.
"""
import os
import sys

import pytest

from clusterlib import TANDEMD, Cluster

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from disk_fixtures import small_disk  # noqa: E402,F401  (a fixture for the tests here)


def pytest_collection_modifyitems(config, items):
    if not os.path.exists(TANDEMD):
        skip = pytest.mark.skip(reason=f"{TANDEMD} is not built")
        for item in items:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        for cluster in getattr(item, "_tandem_clusters", []):
            report.sections.append((f"tandemd logs ({cluster.base_dir})", cluster.logs()))


@pytest.fixture
def cluster_factory(tmp_path, request):
    clusters = []
    request.node._tandem_clusters = clusters

    def make(n=3, name=None, **kwargs):
        base = tmp_path / (name or f"cluster{len(clusters)}")
        base.mkdir()
        c = Cluster(base, n=n, **kwargs)
        clusters.append(c)
        return c

    yield make
    for c in clusters:
        c.kill_all()


@pytest.fixture
def cluster(cluster_factory):
    c = cluster_factory(3)
    c.start()
    return c
