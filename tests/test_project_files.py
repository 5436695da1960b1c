"""Project files stay consistent: README commands, CI script, torch pin."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)
    return [b.strip() for b in blocks[:2]]


def test_readme_opens_with_two_commands() -> None:
    """The README starts with the suite command, then the project-tests command."""
    text = (ROOT / "README.md").read_text()
    first_block = text.index("```bash")
    assert text.count("\n## ", 0, first_block) == 0, "commands must come before any section"
    suite, tests = _readme_commands()
    assert "pytest --pyargs conformance --backend=reference" in suite
    for command in (suite, tests):
        assert "\n" not in command, "each must be one copy-paste line"
        assert "-c constraints.txt" in command


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run calls the README's test command verbatim."""
    assert _readme_commands()[1] in (ROOT / ".ci" / "run").read_text()


def test_ci_runs_the_browser_test() -> None:
    """.ci/run installs chromium and makes the scoreboard's browser test mandatory."""
    text = (ROOT / ".ci" / "run").read_text()
    assert "apt-get install -y -qq chromium chromium-driver" in text
    assert "export CONFORMANCE_REQUIRE_BROWSER=1" in text
    assert text.index("export CONFORMANCE_REQUIRE_BROWSER=1") < text.index(_readme_commands()[1])


def test_torch_pinned_everywhere() -> None:
    """constraints.txt pins torch 2.13.0; tox applies it; metadata declares a range."""
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text().splitlines()
    assert "PIP_CONSTRAINT = {toxinidir}/constraints.txt" in (ROOT / "tox.ini").read_text()
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_dep = next(d for d in deps if d.startswith("torch"))
    assert "<" in torch_dep
    assert ">=" in torch_dep


def test_wheel_ships_what_users_need(tmp_path: Path) -> None:
    """A wheel built from the checkout carries the guide, goldens, manifests and entry points."""
    import subprocess
    import sys
    import zipfile

    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*pip, "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("torch_conformance-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "conformance/writing-a-backend.md" in names
    assert "conformance/backends/expectations/torch.toml" in names
    assert "conformance/durations.json" in names  # balances --shard
    assert len([n for n in names if n.startswith("conformance/lazy/golden/")]) >= 40
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "conformance = conformance.plugin" in text
    assert "reference = conformance.backends.reference:backend" in text


def test_build_output_is_not_tracked() -> None:
    """egg-info and build directories are build output: never in git."""
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert not [p for p in tracked if ".egg-info/" in p or p.startswith("build/")]


def test_committed_scoreboard_is_generated_from_committed_reports(tmp_path: Path) -> None:
    """docs/scoreboard.{md,html} are exactly what the scoreboard makes of docs/reports/."""
    from conformance.scoreboard import run

    reports = [ROOT / "docs" / "reports" / f"{name}.json" for name in ("reference", "torch")]
    written = run(reports, tmp_path / "scoreboard")
    for page in written:
        committed = ROOT / "docs" / page.name
        assert page.read_text() == committed.read_text(), (
            f"{committed} is stale: python -m conformance scoreboard "
            "docs/reports/reference.json docs/reports/torch.json -o docs/scoreboard"
        )
