"""``cinesync ablation-fusion`` end to end."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.realdata
def test_ablation_command_on_the_bundled_data(tmp_path) -> None:
    """`cinesync ablation-fusion` end to end on ml-latest-small (two id/meta variants, 1 epoch, no text)."""
    import json

    from typer.testing import CliRunner

    from cinesync.cli.main import app

    out = tmp_path / "ablation.json"
    result = CliRunner().invoke(app, ["ablation-fusion", "--only", "id,id+meta", "--epochs", "1", "--tmdb-path", "",
                                      "--cold-start", "0.1", "--json", str(out), "--markdown", str(tmp_path / "t.md")])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [r["variant"] for r in data["rows"]] == ["id", "id+meta"]
    assert data["chosen"] in ("id", "id+meta") and data["n_new_items"] == 186
    assert [r["variant"] for r in data["cold_start_rows"]] == ["id"]
    for r in data["rows"]:
        assert 0.05 < r["test"]["ndcg@10"]["mean"] < 0.5
        assert r["test"]["ndcg@10"]["lo"] <= r["test"]["ndcg@10"]["mean"] <= r["test"]["ndcg@10"]["hi"]
    assert "| **" in (tmp_path / "t.md").read_text()


def test_a_typo_in_set_fails_before_the_data_loads(monkeypatch) -> None:
    from typer.testing import CliRunner

    import cinesync.cli.fusion as fusion
    from cinesync.cli.main import app

    monkeypatch.setattr(fusion, "load_data", lambda *a, **k: pytest.fail("loaded data despite a bad --set"))
    result = CliRunner().invoke(app, ["ablation-fusion", "--set", "no_such=1", "--tmdb-path", ""])
    assert result.exit_code == 2 and "no_such" in result.output
