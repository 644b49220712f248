"""`bench matching` at a tiny size: it reports every figure, and the same seed gives the same market."""

import json

import pytest
from django.core.management import call_command

from ledger.errors import GridTokenXError
from trading.benchmarks import bench_matching

FIGURES = {"orders_per_s", "p50_us", "p99_us", "orders", "cancels", "trades", "machine"}


def quiet(msg: str) -> None:
    pass


def test_it_reports_every_figure_and_the_same_seed_gives_the_same_market():
    first = bench_matching(log=quiet, orders=4000, seed=11)
    assert FIGURES <= first.keys()
    assert first["orders"] == 4000 and 1000 < first["cancels"] < 2000  # about a quarter of all messages
    assert first["orders_per_s"] > 0 and first["timed_orders_per_s"] > 0
    assert 0 < first["p50_us"] <= first["p99_us"] <= first["p999_us"]
    assert first["trades"] > 0 and first["cancelled"] > 0
    again = bench_matching(log=quiet, orders=4000, seed=11)
    market = ("orders", "cancels", "cancelled", "trades", "expired", "resting")
    assert [again[k] for k in market] == [first[k] for k in market]
    other = bench_matching(log=quiet, orders=4000, seed=12)
    assert [other[k] for k in market] != [first[k] for k in market]


def test_the_bench_command_prints_one_json_object(capsys):
    call_command("bench", "matching", "--json", "--count", "2000")
    result = json.loads(capsys.readouterr().out)
    assert result["benchmark"] == "matching" and result["orders"] == 2000


def test_it_runs_on_one_core_only():
    with pytest.raises(GridTokenXError, match="one core"):
        bench_matching(log=quiet, orders=10, threads=4)


def test_the_bench_command_passes_orders_and_seed_and_refuses_them_elsewhere(capsys):
    import json

    import pytest
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("bench", "matching", "--json", "--orders", "2000", "--seed", "3")
    result = json.loads(capsys.readouterr().out)
    assert (result["orders"], result["seed"]) == (2000, 3)
    with pytest.raises(CommandError, match="does not take --seed"):
        call_command("bench", "ledger", "--seed", "3")
