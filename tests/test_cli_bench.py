"""`omr bench` hands its arguments to the benchmark suite (python -m bench)."""

from omr.cli import main


def test_omr_bench_lists_the_suite(capfd):
    assert main(["bench", "--list"]) == 0
    out = capfd.readouterr().out
    assert "parser_oracle" in out and "detector_ap" in out and "align" in out
