"""The printed program as a script: bad input is one line and exit 2, never exit 1."""

import subprocess
import sys


def test_an_unknown_client_is_one_line_and_exit_2(tmp_path) -> None:
    script = tmp_path / "failing.py"
    script.write_text("from conformance.program import Program\n"
                      "with Program('no-such-client') as scenario:\n"
                      "    scenario.start_member()\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
