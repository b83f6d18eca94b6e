"""grader.run, grader.batch and grader.status pieces that keep learners' work safe (fast: no nbgrader run)."""

import os

import pytest
import sqlalchemy as sa

from grader.batch import fingerprint
from grader.run import _copy_plain_files, check_inbox
from grader.status import StatusBook


def test_check_inbox_accepts_submitted_and_outside_folders(tmp_path):
    for inbox in (tmp_path / "submitted", tmp_path.parent / f"{tmp_path.name}-inbox"):
        inbox.mkdir()
        check_inbox(tmp_path, inbox)


@pytest.mark.parametrize("inside", [".grader", ".grader/intake", "autograded", "feedback/alice"])
def test_check_inbox_refuses_folders_that_grading_empties(tmp_path, inside):
    (tmp_path / inside).mkdir(parents=True)
    with pytest.raises(ValueError, match="which grading empties"):
        check_inbox(tmp_path, tmp_path / inside)


def test_check_inbox_says_what_a_missing_inbox_should_hold(tmp_path):
    with pytest.raises(ValueError, match="one folder per learner"):
        check_inbox(tmp_path, tmp_path / "nowhere")


def test_fingerprint_changes_with_the_submission_only(tmp_path):
    folder = tmp_path / "alice" / "ex"
    folder.mkdir(parents=True)
    empty = fingerprint(tmp_path, "alice", "ex")
    (folder / "ex.ipynb").write_text("{}")
    first = fingerprint(tmp_path, "alice", "ex")
    assert first != empty and fingerprint(tmp_path, "alice", "ex") == first
    (folder / "ex.ipynb").write_text("{ }")
    assert fingerprint(tmp_path, "alice", "ex") != first
    assert fingerprint(tmp_path, "nobody", "ex") == empty


def test_only_regular_files_are_copied_from_the_kernels_folder(tmp_path):
    """A learner's kernel could leave a link to a file only root may read; grading must not copy its content."""
    source, target = tmp_path / "verify", tmp_path / "captures"
    source.mkdir()
    (source / "model.keras").write_bytes(b"model")
    secret = tmp_path / "secret"
    secret.write_text("s3cret")
    os.symlink(secret, source / "fake.keras")
    (source / "folder").mkdir()
    _copy_plain_files(source, target)
    assert sorted(p.name for p in target.iterdir()) == ["model.keras"]


def test_a_gradebook_from_before_fingerprints_gets_the_column(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE grading_status (student VARCHAR(128), assignment VARCHAR(128), "
                                   "status VARCHAR(32) NOT NULL, message TEXT NOT NULL, attempts INTEGER NOT NULL, "
                                   "seconds FLOAT, updated DATETIME NOT NULL, PRIMARY KEY (student, assignment))"))
        connection.execute(sa.text("INSERT INTO grading_status VALUES ('bob', 'ex', 'graded', '', 1, 2.0, "
                                   "'2026-01-01 00:00:00')"))
    engine.dispose()
    book = StatusBook(url)
    assert book.get("bob", "ex")["fingerprint"] is None
    book.set("bob", "ex", "graded", fingerprint="abc")
    assert book.get("bob", "ex")["fingerprint"] == "abc"
    book.close()
