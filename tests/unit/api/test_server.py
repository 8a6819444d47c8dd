"""The server's own folder for the workers' metrics."""

import pytest

from churn.api.server import instance_directory
from churn.errors import OutputError


def test_a_metrics_folder_that_cannot_be_made_is_one_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder\n")
    with pytest.raises(OutputError, match=r"metrics folder in .*/file/mp: Not a directory$"):
        instance_directory(tmp_path / "file" / "mp")


def test_folders_of_instances_no_longer_running_are_removed(tmp_path):
    root = tmp_path / "mp"
    dead, stray = root / "999999999", root / "not-a-pid"
    for folder in (dead, stray):
        folder.mkdir(parents=True)
    own = instance_directory(root)
    assert sorted(root.iterdir()) == [own]
