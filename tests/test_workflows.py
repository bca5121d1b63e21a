"""The GitHub Actions workflows parse, and run the right jobs on the right events."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parent.parent
WORKFLOWS = REPOSITORY / ".github" / "workflows"
MAIN_ONLY = "github.ref == 'refs/heads/main'"
# The whole test suite (the browser test runs in the book job, on the built site).
TESTS_COMMAND = 'pytest -q tests -m "not browser"'
# The book is built through tools/build_book.py (Jupyter Book with the execution cache keyed on code/).
BOOK_COMMAND = "tools/build_book.py"


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
            if command in _runs(job):
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


@pytest.mark.parametrize("command", [TESTS_COMMAND, BOOK_COMMAND])
def test_tests_and_book_run_on_push_and_pull_request(command):
    name, job_name, job, workflow = _one_job_running(command)
    assert {"push", "pull_request"} <= _triggers(workflow), f"{name} must run on push and pull_request"
    assert "if" not in job, f"{name}: job {job_name} must run on every push and pull request"


def test_tests_job_runs_the_tests_and_notebook_check():
    name, job_name, job, _ = _one_job_running(TESTS_COMMAND)
    runs = _runs(job)
    assert "tools/check_notebooks.py" in runs
    assert "-r requirements.txt" in runs


def test_pip_cache_is_keyed_on_requirements():
    for command in (TESTS_COMMAND, BOOK_COMMAND):
        name, job_name, job, _ = _one_job_running(command)
        setups = _step_using(job, "actions/setup-python")
        assert setups, f"{name}: job {job_name} does not use actions/setup-python"
        settings = setups[0]["with"]
        assert settings["python-version"] == "3.11"
        assert settings.get("cache") == "pip", f"{name}: job {job_name} has no pip cache"
        assert "requirements.txt" in settings.get("cache-dependency-path", ""), f"{name}: pip cache not keyed on requirements.txt"


def test_book_build_is_smoke_with_warnings_as_errors():
    name, job_name, job, workflow = _one_job_running(BOOK_COMMAND)
    build_steps = [step for step in _steps(job) if BOOK_COMMAND in step.get("run", "")]
    # the tool runs `jupyter-book build <root> --warningiserror --keep-going`
    tool = (REPOSITORY / BOOK_COMMAND).read_text(encoding="utf-8")
    assert '"build", str(root), "--warningiserror", "--keep-going"' in tool
    environment = {**workflow.get("env", {}), **job.get("env", {}), **build_steps[0].get("env", {})}
    assert environment.get("MEDCNN_PROFILE") == "smoke"


def test_book_html_uploaded_and_reports_on_failure():
    name, job_name, job, _ = _one_job_running(BOOK_COMMAND)
    uploads = _step_using(job, "actions/upload-artifact")
    paths = {step["with"]["path"].strip(): step for step in uploads}
    assert "_build/html" in paths, f"{name}: the built HTML is not uploaded as an artifact"
    report_uploads = [step for step in uploads if "reports" in step["with"]["path"]]
    assert report_uploads, f"{name}: build reports are not uploaded"
    assert all("failure()" in step.get("if", "") for step in report_uploads)
    assert "_build/html/reports" in report_uploads[0]["with"]["path"]


def test_browser_test_runs_on_built_site_and_uploads_screenshots():
    name, job_name, job, _ = _one_job_running("tests/browser")
    steps = _steps(job)
    build_index = next(i for i, step in enumerate(steps) if BOOK_COMMAND in step.get("run", ""))
    browser_index = next(i for i, step in enumerate(steps) if "tests/browser" in step.get("run", ""))
    assert browser_index > build_index
    assert steps[browser_index].get("env", {}).get("MEDCNN_BOOK_BUILT") == "1"
    screenshots = [step for step in _step_using(job, "actions/upload-artifact") if "screenshots" in step["with"]["path"]]
    assert screenshots and screenshots[0].get("if") == "always()"


def test_pages_deployed_from_main_only():
    workflows = _all_workflows()
    deploy_jobs = [
        (name, job_name, job, workflow)
        for name, workflow in workflows.items()
        for job_name, job in workflow["jobs"].items()
        if "actions/deploy-pages" in _uses(job)
    ]
    assert len(deploy_jobs) == 1, "exactly one job deploys to GitHub Pages"
    name, job_name, job, workflow = deploy_jobs[0]
    assert MAIN_ONLY in job.get("if", ""), f"{name}: {job_name} must deploy from main only"
    assert "github.event_name == 'push'" in job.get("if", ""), "pull requests must never deploy"
    assert job.get("permissions", {}).get("pages") == "write"
    assert job.get("permissions", {}).get("id-token") == "write"
    assert job.get("environment", {}).get("name") == "github-pages"

    needs = job["needs"] if isinstance(job["needs"], list) else [job["needs"]]
    build_job = workflow["jobs"][needs[0]]
    assert BOOK_COMMAND in _runs(build_job)
    for action in ("actions/configure-pages", "actions/upload-pages-artifact"):
        steps = _step_using(build_job, action)
        assert steps, f"{name}: the build job does not use {action}"
        assert MAIN_ONLY in steps[0].get("if", ""), f"{action} must run on main only"
    assert _step_using(build_job, "actions/upload-pages-artifact")[0]["with"]["path"] == "_build/html"


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
