"""The CLI's last line of defence: an unexpected exception is one line and exit 3, never a
traceback and never exit 1 (which means a violation)."""

from __future__ import annotations

import pytest

from conformance import cli, compare


def test_an_unexpected_error_is_one_line_and_exit_3(monkeypatch, capsys, tmp_path):
    def boom(*args, **kwargs):
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(compare, "compare_files", boom)
    results = tmp_path / "results.json"
    results.write_text("{}")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["compare", str(results), str(results)])
    assert exit_.value.code == 3
    err = capsys.readouterr().err
    assert err.strip() == "error: internal error: RuntimeError: something broke"
    assert "Traceback" not in err
