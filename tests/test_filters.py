"""The filter language against a real catalog built from fixtures/store."""

from __future__ import annotations

import pytest

from trackui.store.filters import FilterError, compile_filter
from trackui.store.queries import Store

from .conftest import FIXED_NOW, copy_store

ALL = {"yolo-sgd", "yolo-adamw", "yolo-oom", "resnet-kill", "resnet-crash"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """One catalog of fixtures/store for the module: these tests only read."""
    base = tmp_path_factory.mktemp("filters")
    root = copy_store(base / "store")
    with Store(root, catalog_path=base / "catalog.duckdb", clock=lambda: FIXED_NOW) as s:
        yield s


def names(store: Store, where: str) -> set[str]:
    return {r.name for r in store.list_runs(where=where)}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("", ALL),
        ("yolo", {"yolo-sgd", "yolo-adamw", "yolo-oom"}),
        ("YOLO", {"yolo-sgd", "yolo-adamw", "yolo-oom"}),
        ("cls", {"resnet-kill", "resnet-crash"}),  # the project
        ("adamw", {"yolo-adamw"}),  # name and tag
        ("basel", {"yolo-sgd", "yolo-adamw"}),  # a substring of a tag
        ('"yolo-s"', {"yolo-sgd"}),
        ("yolo sgd", {"yolo-sgd"}),  # side by side means and
        ("status:finished", {"yolo-sgd", "yolo-adamw"}),
        ("status:failed,crashed", {"yolo-oom", "resnet-crash"}),
        ("STATUS:Killed", {"resnet-kill"}),
        ("status:running", set()),
        ("project:detect", {"yolo-sgd", "yolo-adamw", "yolo-oom"}),
        ("project:DETECT", {"yolo-sgd", "yolo-adamw", "yolo-oom"}),
        ("project:det", set()),  # exact, unlike free text
        ("project:det*", {"yolo-sgd", "yolo-adamw", "yolo-oom"}),
        ("tag:baseline", {"yolo-sgd", "yolo-adamw"}),
        ("tag:sgd", {"yolo-sgd"}),
        ("tag:base", set()),
        ("tag:base*", {"yolo-sgd", "yolo-adamw"}),
        ("name:resnet", {"resnet-kill", "resnet-crash"}),
        ("name:*kill", {"resnet-kill"}),
        ("name:*res", set()),
        ("host:gpu-box-7", {"resnet-crash"}),
        ("id:20261126-151108458", {"yolo-sgd"}),
        ("lr0<0.01", {"yolo-adamw"}),
        ("lr0<=0.01", {"yolo-adamw", "yolo-sgd"}),
        ("lr0 > 0.005", {"yolo-sgd", "yolo-oom"}),
        ("lr0>=2e-2", {"yolo-oom"}),
        ("lr0=0.01", {"yolo-sgd"}),
        ("lr0==0.01", {"yolo-sgd"}),
        ("lr0!=0.01", {"yolo-adamw", "yolo-oom"}),  # runs without lr0 never match
        ("not lr0=0.01", ALL - {"yolo-sgd"}),
        ("batch>16 and batch<64", {"yolo-adamw"}),
        ("optimizer.name=SGD", {"yolo-sgd", "yolo-oom"}),
        ("optimizer.name=sgd", {"yolo-sgd", "yolo-oom"}),  # text compares ignoring case
        ("optimizer.name!=SGD", {"yolo-adamw"}),
        ("optimizer.momentum<0.93", {"yolo-oom"}),
        ("arch=resnet50", {"resnet-crash"}),
        ("arch~net", {"resnet-kill", "resnet-crash"}),
        ("arch~^RESNET1", {"resnet-kill"}),
        ("arch!~18$", {"resnet-crash"}),
        ("model~yolo26", {"yolo-sgd", "yolo-adamw", "yolo-oom"}),
        ('data="coco8.yaml"', {"yolo-sgd", "yolo-adamw", "yolo-oom"}),
        ("max(metrics/mAP50-95(B))>0.3", {"yolo-sgd", "yolo-adamw", "yolo-oom"}),
        ("max(metrics/mAP50-95(B))>0.43", {"yolo-sgd", "yolo-adamw"}),
        ("max(metrics/mAP50-95(B)) > 0.434", set()),
        ("last(metrics/mAP50-95(B))<0.43", {"yolo-adamw", "yolo-oom"}),
        ("min(train/box_loss)<0.46", {"yolo-sgd", "yolo-adamw"}),
        ("first(lr/pg0)=0.02", {"yolo-oom"}),
        ("count(loss)>=30", {"resnet-crash"}),
        ("count(metrics/mAP50(B))<40", {"yolo-oom"}),
        ("MAX(acc)>0.955", {"resnet-crash"}),
        ('max("train/cls_loss")>3', {"yolo-sgd"}),
        ("loss<0.206", {"resnet-crash"}),  # no param "loss": the metric's last value
        ("acc>0.9", {"resnet-kill", "resnet-crash"}),
        ("yolo and not status:finished", {"yolo-oom"}),
        ("yolo and not (status:finished)", {"yolo-oom"}),
        ("not(yolo)", {"resnet-kill", "resnet-crash"}),
        ("status:killed or status:crashed", {"resnet-kill", "resnet-crash"}),
        ("tag:sgd or arch=resnet18 and lr>0.05", {"yolo-sgd", "resnet-kill"}),  # and binds tighter
        ("(tag:sgd or arch=resnet18) and lr>0.05", {"resnet-kill"}),
        (
            "(project:detect and (lr0<0.01 or batch=64)) or name:crash",
            {"yolo-adamw", "yolo-oom", "resnet-crash"},
        ),
        ("not not yolo", {"yolo-sgd", "yolo-adamw", "yolo-oom"}),
        ("nosuchkey=1", set()),
        ("nosuchkey!=1", set()),
        ("max(nosuch)>0", set()),
    ],
)
def test_filter_selects_runs(store: Store, where: str, expected: set[str]) -> None:
    assert names(store, where) == expected


def test_count_runs_uses_the_same_filter(store: Store) -> None:
    assert store.count_runs(where="project:detect and lr0<0.015") == 2


@pytest.mark.parametrize(
    ("where", "message", "position"),
    [
        ("(yolo", "missing ')'", 0),
        ("yolo)", "unexpected ')'", 4),
        ("()", "empty parentheses", 0),
        ("lr0<", "expected a value after '<'", 4),
        ("status:", "expected a value", 7),
        ("status:runing", "unknown status 'runing'", 7),
        ("colour:red", "unknown field 'colour:'", 0),
        ("yolo and", "expected a term after 'and'", 5),
        ("or yolo", "expected a term before 'or'", 0),
        ("not", "expected a term after 'not'", 0),
        ("=3", "expected a key before '='", 0),
        ('name:"abc', 'unclosed " quote', 5),
        ("avg(loss)>1", "unknown summary 'avg'", 0),
        ("max(loss)>low", "compares with numbers", 10),
        ("max(loss)~x", "compares with numbers, not '~'", 9),
        ("max()>1", "needs a metric key", 0),
        ("arch~(?=x)", "bad regular expression", 5),
        ("arch~(", "bad regular expression", 5),
    ],
)
def test_bad_filters_say_what_and_where(where: str, message: str, position: int) -> None:
    with pytest.raises(FilterError) as info:
        compile_filter(where)
    assert message in info.value.message
    assert info.value.position == position
    assert f"column {position + 1}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_list_runs_raises_filter_error(store: Store) -> None:
    with pytest.raises(FilterError):
        store.list_runs(where="lr0 <")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(FilterError, match="nested too deeply"):
        compile_filter("(" * 500 + "a" + ")" * 500)
    with pytest.raises(FilterError, match="nested too deeply"):
        compile_filter("not " * 500 + "a")


@pytest.mark.parametrize(
    "attack",
    [
        "'; DROP TABLE runs; --",
        '"x\') OR 1=1 --"',
        "name:x') OR ('1'='1",
        "lr0=1 OR 1=1",
        'max(loss") OR 1=1 --)>0',
        "tag:'] OR TRUE --",
        "status:finished'); DELETE FROM runs; --",
        'a"b=c',
        "x~') OR 1=1 --",
    ],
)
def test_injection_is_inert(store: Store, attack: str) -> None:
    try:
        sql, params = compile_filter(attack)
    except FilterError:
        pass
    else:
        # Nothing the user typed is in the SQL text: only in the parameters.
        for fragment in ("DROP", "DELETE", "1=1", "TRUE --", "OR ('1'"):
            assert fragment not in sql
        got = store.list_runs(where=attack)
        assert len(got) < len(ALL)
    assert store.count_runs() == len(ALL)
    assert {r.name for r in store.list_runs()} == ALL


def test_params_are_bound_in_order() -> None:
    sql, params = compile_filter("project:detect and max(loss)<1 and tag:x")
    assert sql.count("?") == len(params)
    assert params == ["detect", "loss", 1.0, "x"]
