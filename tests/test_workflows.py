"""The GitHub workflows are valid and do what the README says: tests on every push and pull request through
.ci/run, and the book built with `make book` and deployed with GitHub's official Pages actions, its execute
cache kept between runs. Validity is checked against the GitHub workflow schema that check-jsonschema ships
(no network needed), and a broken copy proves the check can fail."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CHECK = [str(Path(sys.executable).with_name("check-jsonschema")), "--builtin-schema", "vendor.github-workflows"]


def load(name):
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def uses(workflow):
    return [step.get("uses", "") for job in workflow["jobs"].values() for step in job.get("steps", [])]


def runs(workflow):
    return [step.get("run", "") for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_every_workflow_passes_the_github_workflow_schema():
    assert {path.name for path in WORKFLOWS} == {"tests.yml", "pages.yml"}
    result = subprocess.run([*CHECK, *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path):
    broken = yaml.safe_load((ROOT / ".github" / "workflows" / "tests.yml").read_text())
    del broken["jobs"]["test"]["runs-on"]
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    result = subprocess.run([*CHECK, str(tmp_path / "broken.yml")], capture_output=True, text=True)
    assert result.returncode != 0 and "runs-on" in result.stdout + result.stderr


def test_tests_run_the_readme_test_command_on_push_and_pull_request():
    workflow = load("tests.yml")
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert any("bash .ci/run" in command for command in runs(workflow))
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_pages_builds_the_book_and_deploys_with_the_official_actions_keeping_the_execute_cache():
    workflow = load("pages.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert {"pages": "write", "id-token": "write", "contents": "read"}.items() <= workflow["permissions"].items()
    steps = uses(workflow)
    for action in ("actions/configure-pages@", "actions/upload-pages-artifact@", "actions/deploy-pages@", "actions/cache@"):
        assert any(step.startswith(action) for step in steps), action
    cache = next(step for job in workflow["jobs"].values() for step in job["steps"]
                 if step.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "_build/.jupyter_cache"
    assert any(command.strip() == "make book" for command in runs(workflow))
    upload = next(step for job in workflow["jobs"].values() for step in job["steps"]
                  if step.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_actions_are_pinned_to_a_major_version(path):
    for step in filter(None, uses(load(path.name))):
        assert "@v" in step, f"{path.name}: {step} is not pinned"
