"""``host:path`` is told from a local path the way scp and rsync tell them."""

from __future__ import annotations

import pytest

from trackui.store.remote.spec import RemoteSpec, SpecError, is_remote, parse


@pytest.mark.parametrize(
    ("text", "box", "destination", "path"),
    [
        ("gpu1:~/runs", "gpu1", "gpu1", "~/runs"),
        ("user@host:/data/runs", "user@host", "user@host", "/data/runs"),
        ("gpu1:runs", "gpu1", "gpu1", "runs"),
        ("gpu1:", "gpu1", "gpu1", ""),
        ("gpu-2.lab.example:/a:b", "gpu-2.lab.example", "gpu-2.lab.example", "/a:b"),
        ("[::1]:runs", "[::1]", "::1", "runs"),
        ("me@[fe80::1%eth0]:/x", "me@[fe80::1%eth0]", "me@fe80::1%eth0", "/x"),
        ("me@c:runs", "me@c", "me@c", "runs"),
        ("box:path with spaces/x", "box", "box", "path with spaces/x"),
    ],
)
def test_remote_forms(text: str, box: str, destination: str, path: str) -> None:
    spec = parse(text)
    assert spec == RemoteSpec(box=box, destination=destination, path=path)
    assert spec.location == f"{box}:{path}"
    assert is_remote(text)


@pytest.mark.parametrize(
    "text",
    [
        "./a:b",
        "/abs/dir:x",
        "runs",
        "C:\\runs",
        "C:/runs",
        "d:runs",
        ":runs",
        "~/runs",
        "",
        "a/b:c",
    ],
)
def test_local_forms(text: str) -> None:
    assert parse(text) is None
    assert not is_remote(text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("-oProxyCommand=x:runs", "not a host"),
        ("user@-x:runs", "not a host"),
        ("@:runs", "not a host"),
        ("host::module", "rsync daemon"),
        ("ssh://host/runs", "URLs"),
        ("rsync://host/runs", "URLs"),
        ("bad host:runs", "space"),
    ],
)
def test_refused_forms_say_why_in_one_line(text: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse(text)
    message = str(caught.value)
    assert says in message and "\n" not in message
    assert is_remote(text)  # meant as remote: never read as a local path


def test_home_directory_root() -> None:
    spec = parse("gpu1:")
    assert spec is not None and spec.root == "."
    assert parse("gpu1:~/runs").root == "~/runs"
