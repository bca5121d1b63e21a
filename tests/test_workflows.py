"""The GitHub Actions workflows parse, and run the right jobs on the right events."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parent.parent
WORKFLOWS = REPOSITORY / ".github" / "workflows"
RELEASE_TAG = "startsWith(github.ref, 'refs/tags/v')"
# CI is `make test`: the Makefile alone decides which tests run (docs/ARCHITECTURE.md).
TESTS_COMMAND = "make test"
# A run step may only call make: `make <target> [VARIABLE=value]`, or hand its output to the workflow.
MAKE_LINE = re.compile(r"^make(?: --no-print-directory)? [\w-]+(?: [A-Z_]+=\S+)*$")
MAKE_OUTPUT_LINE = re.compile(r'^echo "\w+=\$\(make --no-print-directory [\w-]+\)" >> "\$GITHUB_OUTPUT"$')


def _load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(workflow, dict), f"{path.name} is not a YAML mapping"
    # YAML 1.1 reads the bare key `on` as the boolean True.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def _all_workflows() -> dict[str, dict]:
    paths = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
    return {path.name: _load(path) for path in paths}


def _triggers(workflow: dict) -> set[str]:
    on = workflow["on"]
    if isinstance(on, str):
        return {on}
    if isinstance(on, list):
        return set(on)
    return set(on)


def _steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def _uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in _steps(job) if "uses" in step]


def _step_using(job: dict, action: str) -> list[dict]:
    return [step for step in _steps(job) if step.get("uses", "").split("@")[0] == action]


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in _steps(job))


def _jobs_running(command: str) -> list[tuple[str, str, dict, dict]]:
    found = []
    for name, workflow in _all_workflows().items():
        for job_name, job in workflow["jobs"].items():
            if command in _runs(job).splitlines():
                found.append((name, job_name, job, workflow))
    return found


def _one_job_running(command: str):
    found = _jobs_running(command)
    assert found, f"no workflow job runs {command!r}"
    return found[0]


def test_workflows_exist_and_parse():
    workflows = _all_workflows()
    assert workflows, f"no workflow in {WORKFLOWS}"
    for name, workflow in workflows.items():
        assert workflow.get("name"), f"{name} has no name"
        assert "on" in workflow, f"{name} has no trigger"
        assert workflow.get("jobs"), f"{name} has no jobs"
        for job_name, job in workflow["jobs"].items():
            assert "runs-on" in job, f"{name}: job {job_name} has no runs-on"
            steps = _steps(job)
            assert steps, f"{name}: job {job_name} has no steps"
            for step in steps:
                assert ("uses" in step) != ("run" in step), f"{name}: job {job_name}: a step needs exactly one of uses/run: {step}"
                if "uses" in step:
                    assert "@" in step["uses"], f"{name}: {step['uses']} is not pinned to a version"


def test_every_job_checks_out_code_before_running_it():
    for name, workflow in _all_workflows().items():
        for job_name, job in workflow["jobs"].items():
            if any("run" in step for step in _steps(job)):
                assert _uses(job)[0] == "actions/checkout", f"{name}: job {job_name} runs commands without checking out first"


def test_workflows_only_call_make():
    """CI is defined once, in the Makefile: every command a workflow runs is a make target."""
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.M))
    for name, workflow in _all_workflows().items():
        for job_name, job in workflow["jobs"].items():
            for step in _steps(job):
                for line in step.get("run", "").strip().splitlines():
                    assert MAKE_LINE.match(line) or MAKE_OUTPUT_LINE.match(line), (
                        f"{name}: job {job_name} runs {line!r}; put it in a make target and call that")
                    target = re.search(r"make(?: --no-print-directory)? ([\w-]+)", line).group(1)
                    assert target in targets, f"{name}: make {target} is not a target of the Makefile"


def test_ci_runs_make_test_on_every_push_and_pull_request():
    name, job_name, job, workflow = _one_job_running(TESTS_COMMAND)
    assert {"push", "pull_request"} <= _triggers(workflow), f"{name} must run on push and pull_request"
    assert "if" not in job, f"{name}: job {job_name} must run on every push and pull request"
    assert len(_jobs_running(TESTS_COMMAND)) == 1, "one job runs make test"
    # .ci/run (the machine's CI) runs the same target
    assert "\nmake test\n" in (REPOSITORY / ".ci" / "run").read_text(encoding="utf-8")


def test_pip_cache_is_keyed_on_the_lock():
    for name, workflow in _all_workflows().items():
        for job_name, job in workflow["jobs"].items():
            for setup in _step_using(job, "actions/setup-python"):
                settings = setup["with"]
                assert settings.get("cache") == "pip", f"{name}: job {job_name} has no pip cache"
                wanted = "requirements-colab.txt" if "make test-colab" in _runs(job) else "requirements.lock"
                assert wanted in settings.get("cache-dependency-path", ""), f"{name}: pip cache not keyed on {wanted}"
    name, job_name, job, _ = _one_job_running(TESTS_COMMAND)
    assert _step_using(job, "actions/setup-python")[0]["with"]["python-version"] == "3.11"


def test_the_execution_cache_is_keyed_on_the_code_key():
    name, job_name, job, _ = _one_job_running(TESTS_COMMAND)
    steps = _steps(job)
    key_index = next(i for i, step in enumerate(steps) if "make --no-print-directory book-key" in step.get("run", ""))
    cache_index = next(i for i, step in enumerate(steps) if step.get("uses", "").startswith("actions/cache"))
    test_index = next(i for i, step in enumerate(steps) if step.get("run") == TESTS_COMMAND)
    assert key_index < cache_index < test_index
    assert steps[cache_index]["with"]["path"] == "_build/.jupyter_cache"
    assert "steps.code-key.outputs.key" in steps[cache_index]["with"]["key"]


def test_book_build_is_smoke_with_warnings_as_errors():
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8")
    assert 'MEDCNN_PROFILE=smoke tools/timed.sh "book build" $(PYTHON) tools/build_book.py' in makefile
    tool = (REPOSITORY / "tools" / "build_book.py").read_text(encoding="utf-8")
    assert '"build", str(root), "--warningiserror", "--keep-going"' in tool


def test_site_uploaded_reports_on_failure_screenshots_always():
    name, job_name, job, _ = _one_job_running(TESTS_COMMAND)
    uploads = _step_using(job, "actions/upload-artifact")
    paths = {step["with"]["path"].strip(): step for step in uploads}
    assert "_build/html" in paths, f"{name}: the built HTML is not uploaded as an artifact"
    report_uploads = [step for step in uploads if "reports" in step["with"]["path"]]
    assert report_uploads and all("failure()" in step.get("if", "") for step in report_uploads)
    assert "_build/html/reports" in report_uploads[0]["with"]["path"]
    screenshots = [step for step in uploads if "screenshots" in step["with"]["path"]]
    assert screenshots and screenshots[0].get("if") == "always()"
    assert job.get("env", {}).get("MEDCNN_CHROMIUM"), f"{name}: the browser test needs the runner's Chrome"


def test_pages_deployed_from_release_tags_only_with_the_permissions_it_needs():
    workflows = _all_workflows()
    deploy_jobs = [
        (name, job_name, job, workflow)
        for name, workflow in workflows.items()
        for job_name, job in workflow["jobs"].items()
        if "actions/deploy-pages" in _uses(job)
    ]
    assert len(deploy_jobs) == 1, "exactly one job deploys to GitHub Pages"
    name, job_name, job, workflow = deploy_jobs[0]
    assert RELEASE_TAG in job.get("if", "") and "github.event_name == 'push'" in job.get("if", ""), (
        f"{name}: {job_name} must deploy release tags only (the site holds still between releases)")
    assert "v*" in workflow["on"]["push"]["tags"], f"{name} must run on release tags"
    # configure-pages reads the Pages settings: it runs where the token may (actions/configure-pages#188)
    assert _uses(job) == ["actions/configure-pages", "actions/deploy-pages"]
    assert job.get("permissions") == {"pages": "write", "id-token": "write"}
    assert job.get("environment", {}).get("name") == "github-pages"

    needs = job["needs"] if isinstance(job["needs"], list) else [job["needs"]]
    build_job = workflow["jobs"][needs[0]]
    assert TESTS_COMMAND in _runs(build_job), "the site deployed is the one make test built and checked"
    pages_upload = _step_using(build_job, "actions/upload-pages-artifact")
    assert pages_upload and RELEASE_TAG in pages_upload[0].get("if", "")
    assert pages_upload[0]["with"]["path"] == "_build/html"
    assert not any("actions/configure-pages" in _uses(other) for other in workflow["jobs"].values() if other is not job)


def test_workflow_default_permissions_are_read_only():
    for name, workflow in _all_workflows().items():
        assert workflow.get("permissions") == {"contents": "read"}, f"{name} should default to read-only permissions"


def test_a_deployment_under_way_is_never_cancelled():
    """A newer push may cancel an older build, never its deployment to Pages."""
    for name, workflow in _all_workflows().items():
        for job_name, job in workflow["jobs"].items():
            if "actions/deploy-pages" not in _uses(job):
                continue
            run_level = workflow.get("concurrency") or {}
            assert run_level.get("cancel-in-progress") in (None, False), (
                f"{name}: a workflow-level concurrency with cancel-in-progress would cancel {job_name} mid-deploy"
            )
            assert job["concurrency"]["cancel-in-progress"] is False, f"{name}: {job_name} must not be cancellable"


def test_actions_are_on_their_node24_majors():
    minimum = {
        "actions/checkout": 5, "actions/setup-python": 6, "actions/upload-artifact": 6,
        "actions/configure-pages": 6, "actions/upload-pages-artifact": 5, "actions/deploy-pages": 5,
        "actions/cache": 5,
    }
    for name, workflow in _all_workflows().items():
        for job in workflow["jobs"].values():
            for step in _steps(job):
                action, _, version = step.get("uses", "").partition("@")
                if action in minimum:
                    assert int(version.lstrip("v").split(".")[0]) >= minimum[action], f"{name}: {action}@{version}"


def test_the_colab_stack_job_checks_the_drift_then_runs_make_test_colab_weekly():
    """Colab's Python itself is checked against requirements-colab.txt by tests/test_colab_freeze.py."""
    name, job_name, job, workflow = _one_job_running("make test-colab")
    runs = [step.get("run", "") for step in _steps(job) if "run" in step]
    assert runs == ["make colab-drift", "make test-colab"], f"{name}: {runs}"
    assert {"workflow_dispatch", "schedule"} <= _triggers(workflow)


def test_the_architecture_maps_every_make_target_a_workflow_runs():
    architecture = (REPOSITORY / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = architecture.split("### Which make target runs which tests, where", 1)[-1].split("\n## ", 1)[0]
    assert table.strip(), "docs/ARCHITECTURE.md lacks the table of make targets"
    for name, workflow in _all_workflows().items():
        for job in workflow["jobs"].values():
            for target in re.findall(r"^make ([\w-]+)", _runs(job), flags=re.M):
                assert f"| `make {target}" in table, f"{name} runs make {target}, which docs/ARCHITECTURE.md's table does not map"


def test_every_browser_test_file_is_run_by_make_browser_tests():
    makefile = (REPOSITORY / "Makefile").read_text(encoding="utf-8")
    listed = re.search(r"^BROWSER_TESTS \?= (.+)$", makefile, flags=re.M).group(1).split()
    for path in sorted((REPOSITORY / "tests").rglob("test_*.py")):
        if re.search(r"^\s*(@pytest\.mark\.browser\b|pytestmark\s*=.*\bbrowser\b)", path.read_text(encoding="utf-8"), flags=re.M):
            relative = path.relative_to(REPOSITORY).as_posix()
            assert any(relative == item or relative.startswith(item.rstrip("/") + "/") for item in listed), (
                f"{relative} has browser tests that make browser-tests does not run: add it to BROWSER_TESTS")
