"""Issue 10 §6: fuzzing with hypothesis.

- the frame path (``parse_status``, the source's SSE event handling, the size
  guard under httpx-sse) with arbitrary JSON, text and bytes, many examples
  and no I/O;
- the same over real HTTP against the simulator, fewer examples: garbage on the
  SSE stream and as the REST body while polling;
- ``load_config`` on arbitrary TOML (config-shaped dicts through a tiny TOML
  writer, and arbitrary text).

Never an unhandled exception or a hung task; a bad config always raises
``ConfigError`` naming the file and, when the file parses, a key.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bridge.infra.config import Config, load_config
from bridge.infra.errors import ConfigError
from bridge.pipeline.mapping import Mapper, frame_for, next_wake
from bridge.pipeline.model import AgentStatus, ConnectionState, SourceStatus
from bridge.pipeline.theme import default_theme
from bridge.simulator import STATUS_PATH, STREAM_PATH, Fault, SimAgent, SimServer
from bridge.sources.pocketpaw.options import Options
from bridge.sources.pocketpaw.parse import FrameError, parse_status
from bridge.sources.pocketpaw.source import PocketPawSource
from bridge.sources.sse import FrameReader, FrameTooLarge, decode
from tests.conftest import Recorder, eventually

# -- strategies --------------------------------------------------------------------------


def scalars(text_size: int) -> st.SearchStrategy[Any]:
    """Booleans, 64-bit integers, any float (NaN and infinities too) and short text."""
    return (
        st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=text_size)
    )


def nested(
    leaf: st.SearchStrategy[Any], *, key_size: int, size: int, leaves: int
) -> st.SearchStrategy[Any]:
    """Lists and string-keyed tables of ``leaf`` values, nested."""
    return st.recursive(
        leaf,
        lambda inner: (
            st.lists(inner, max_size=size)
            | st.dictionaries(st.text(max_size=key_size), inner, max_size=size)
        ),
        max_leaves=leaves,
    )


JSON = nested(st.none() | scalars(20), key_size=8, size=4, leaves=16)
SESSION_STATES = [
    "thinking",
    "tool_running",
    "streaming",
    "waiting_for_user",
    "error",
    "compacting",
]


def junk_or(*good: Any) -> st.SearchStrategy[Any]:
    """Mostly plausible values, sometimes anything at all."""
    return st.one_of(st.sampled_from(good), JSON)


SESSION = st.fixed_dictionaries(
    {},
    optional={
        "session_key": junk_or("websocket:a", "discord:b", "nokey", "", "x:y:z"),
        "session_id": junk_or("a", "b"),
        "channel": junk_or("websocket", "discord"),
        "title": junk_or("Help", None),
        "state": junk_or(*SESSION_STATES),
        "tool_name": junk_or("bash", None, "web_search"),
        "duration_seconds": junk_or(0, 1.5, -3, 1e308),
        "token_usage": junk_or({"input": 1, "output": 2}, None, {"input": True, "output": 1}),
        "error_message": junk_or("boom", None),
        "extra": JSON,
    },
)
STATUS = st.fixed_dictionaries(
    {
        "global": st.fixed_dictionaries(
            {},
            optional={
                "state": junk_or("idle", "active", "degraded", "connecting", "weird"),
                "active_sessions": junk_or(0, 3, -1),
                "max_concurrent": junk_or(5, None),
                "uptime_seconds": junk_or(12, 1.5),
                "mood": JSON,
            },
        )
        | JSON
    },
    optional={"sessions": st.lists(SESSION | JSON, max_size=6) | JSON, "other": JSON},
)
ANY_STATUS = STATUS | JSON


def _map_everything(snapshot: Any) -> None:
    """Run a parsed snapshot through the rest of the pipeline: fold, map, frame, wake."""
    status = AgentStatus.fold((SourceStatus("pp", ConnectionState.CONNECTED, snapshot),))
    mapped = Mapper(default_theme()).map(status, 100.0)
    for show in ("session", "global"):
        frame_for("d", mapped, 100.5, show=show)
        next_wake(mapped, 100.5, show=show, with_sessions=True, max_fps=30)


# -- the frame path, no I/O --------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(data=ANY_STATUS)
def test_parse_status_takes_any_json(data: Any) -> None:
    try:
        snapshot = parse_status(data, source="pp", received_at=1000.0)
    except FrameError:
        # Only for what is not a status object at all.
        assert (
            not isinstance(data, dict)
            or not isinstance(data.get("global"), dict)
            or not isinstance(data.get("sessions", []), list | None)
        )
        return
    assert isinstance(data, dict)
    assert all(s.key for s in snapshot.sessions)
    assert len({s.key for s in snapshot.sessions}) == len(snapshot.sessions)
    assert all(math.isfinite(s.since) for s in snapshot.sessions)
    _map_everything(snapshot)


def _source(published: list[SourceStatus]) -> PocketPawSource:
    return PocketPawSource("pp", Options(), published.append, clock=lambda: 1000.0)


@settings(max_examples=200, deadline=None)
@given(
    event=st.sampled_from(["status", "message", "", "other"]) | st.text(max_size=50),
    data=st.one_of(st.text(max_size=200), ANY_STATUS.map(json.dumps)),
)
@example(event="status", data="[" * 100_000)  # deep nesting: RecursionError in json
@example(event="status", data='{"global": {"state": "idle"}, "sessions": [' + "[" * 50_000)
@example(event="x" * 10_000, data="{}")
def test_source_frame_handling_never_raises(event: str, data: str) -> None:
    published: list[SourceStatus] = []
    source = _source(published)
    good = source._on_event(ServerSentEvent(event=event, data=data))
    assert good is bool(published)
    if good:
        assert published[-1].connection is ConnectionState.CONNECTED
        _map_everything(published[-1].snapshot)


# The reference is httpx-sse's own decoders (what its EventSource runs): its line
# decoder (CRLF, LF or a lone CR, a CRLF cut between chunks) and its event decoder.
# Bytes go in as latin-1, one character per byte, so sizes are the bytes' sizes.


@dataclasses.dataclass
class Reference:
    frames: list[bytes]  # complete frames that are not comments only, lines joined by LF
    keepalives: int  # complete frames of comments only
    sizes: list[int]  # every frame's size, the open one included
    events: list[tuple[str, str]]  # (event, data) of the events that carry data


def reference(chunks: list[bytes]) -> Reference:
    splitter, events = SSELineDecoder(), SSEDecoder()
    lines = [line for chunk in chunks for line in splitter.decode(chunk.decode("latin-1"))]
    # httpx-sse holds a final CR back in case an LF follows; the line it ended is complete.
    ended_by_cr = splitter.trailing_cr
    tail = splitter.flush()
    if ended_by_cr:
        lines += tail
        tail = []
    ref = Reference([], 0, [], [])
    frame: list[str] = []
    for line in lines:
        event = events.decode(line.encode("latin-1").decode("utf-8", "replace"))
        if event is not None and event.data:
            ref.events.append((event.event, event.data))
        if line:
            frame.append(line)
            continue
        if frame:  # a blank line ends a frame; more of them in a row end nothing
            ref.sizes.append(len("\n".join(frame)))
            if all(x.startswith(":") for x in frame):
                ref.keepalives += 1
            else:
                ref.frames.append("\n".join(frame).encode("latin-1"))
        frame = []
    frame += tail  # an open last line
    if frame:
        ref.sizes.append(len("\n".join(frame)))
    return ref


SSE_BYTES = st.lists(
    st.sampled_from(
        [b"\n", b"\r\n", b"\r", b":", b": keepalive", b"data: ", b"event: status", b"x" * 20, b"{}"]
    )
    | st.binary(max_size=30),
    max_size=40,
).map(b"".join)


def _cuts(data: bytes, points: list[int]) -> list[bytes]:
    marks = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(marks) if b > a]


def _scan(chunks: list[bytes], limit: int) -> tuple[list[bytes], int, bool]:
    reader = FrameReader(limit)
    frames: list[bytes] = []
    keepalives = 0
    try:
        for chunk in chunks:
            batch = reader.feed(chunk)
            frames += batch.frames
            keepalives += batch.keepalives
    except FrameTooLarge:
        return frames, keepalives, True
    return frames, keepalives, False


@settings(max_examples=300, deadline=None)
@given(data=SSE_BYTES, points=st.lists(st.integers(0, 10_000), max_size=12))
# Regressions: CRLF streams cut between a blank line's CR and LF, and lone-CR line
# ends, were counted as one ever-growing frame and rejected.
@example(
    data=b"data: 1234567890\r\n\r\n" * 10,
    points=[20 * k + d for k in range(10) for d in (19, 22)],
)
@example(data=b"data: 1\r\rdata: 2\r\r" * 20, points=[])
@example(data=b": keepalive\r\r: keepalive\r\n\r\n", points=[12, 13, 26])
@example(data=b"\n\n\ndata: 1\n\n\n\ndata: 2\n\n", points=[1, 2, 3, 11, 12, 13])
@example(data=b":\r\n\n", points=[2, 3])  # the LF pairing a CR, alone in its chunk
@example(data=b":\n\n\n:\n\n", points=[])  # three line ends between frames
@example(data=b"event: status\r\ndata: {}\ndata:\xff\n\n: keepalive\r\rdata: x\n\n", points=[15])
def test_frame_reader_cuts_frames_like_httpx_sse(data: bytes, points: list[int]) -> None:
    limit = 64
    chunks = _cuts(data, points)
    ref = reference(chunks)
    seen, seen_keepalives, rejected = _scan(chunks, limit)
    longest = max(ref.sizes, default=0)
    if longest < limit:
        # No frame is over the limit: nothing may be rejected, however it is cut up,
        # and the frames, keepalives and events are exactly httpx-sse's, in order.
        assert not rejected, (ref, chunks)
        assert seen == ref.frames, (chunks, seen, ref)
        assert seen_keepalives == ref.keepalives, (chunks, seen_keepalives, ref)
        decoded = [decode(frame) for frame in seen]
        ours = [(e.event, e.data) for e in decoded if e is not None and e.data]
        assert ours == ref.events, (chunks, ours, ref)
    if longest > limit:
        assert rejected, (ref, chunks)  # refused, however it is cut up
    else:
        assert seen == ref.frames[: len(seen)]  # never a frame httpx-sse does not see


def test_decode_reads_fields_like_the_sse_spec() -> None:
    ev = decode(b': hi\nevent: status\ndata: {"a":\ndata:1}\nid: 7\nretry: 50\nbogus: x')
    assert ev is not None
    assert (ev.event, ev.data, ev.id, ev.retry) == ("status", '{"a":\n1}', "7", 50)
    assert decode(b": only a comment") is None
    plain = decode(b"data: \xff")
    assert plain is not None and (plain.event, plain.data) == ("message", "\ufffd")


# -- over real HTTP ---------------------------------------------------------------------------


def _keys(status: SourceStatus) -> list[str]:
    return [s.key for s in status.snapshot.sessions] if status.snapshot else []


_marker = itertools.count()
# One source per test, kept across its examples (hypothesis runs them all in the
# test's event loop): keyed by the test's server, stopped by the fixtures.
_RUNNING: dict[int, Recorder] = {}


async def _source_for(
    server: SimServer, run_source: Callable[..., Any], **options: Any
) -> Recorder:
    rec = _RUNNING.get(id(server))
    if rec is None:
        _, rec = await run_source(server.url, **options)
        _RUNNING[id(server)] = rec
        await rec.wait_state("idle")
    return rec


def _next_session(agent: SimAgent) -> str:
    """End every session and start one with a new key: the state to wait for."""
    key = f"websocket:fuzz{next(_marker)}"
    for old in list(agent.snapshot()["sessions"]):
        agent.agent_end(old["session_key"])
    agent.agent_start(key)
    return key


GARBAGE = st.one_of(
    st.binary(max_size=300),
    SSE_BYTES,
    ANY_STATUS.map(lambda d: f"event: status\ndata: {json.dumps(d)}\n\n".encode()),
    st.text(max_size=200).map(lambda t: f"data: {t}\n".encode()),
)


@pytest.fixture(autouse=True)
def _forget_sources() -> Iterator[None]:
    yield
    _RUNNING.clear()  # the fixtures stopped them; a new server may reuse the id


SHARED = settings(
    deadline=None,
    # One server and source for all examples, on purpose: the stream must survive them all.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@settings(SHARED, max_examples=40)
@given(payload=GARBAGE)
async def test_garbage_on_the_stream_never_costs_the_connection(
    payload: bytes, agent: SimAgent, server: SimServer, run_source: Callable[..., Any]
) -> None:
    rec = await _source_for(server, run_source)
    await server.send_raw(payload)
    await server.send_raw(b"\n\n")  # end whatever frame the garbage left open
    mark = rec.mark()
    key = _next_session(agent)
    status = await rec.wait_for(lambda s: _keys(s) == [key], start=mark, within=5)
    assert status.connection is ConnectionState.CONNECTED
    assert all(s.connection is ConnectionState.CONNECTED for s in rec.statuses[mark:])
    assert server.requests[STREAM_PATH] == 1  # the same stream all along


@settings(SHARED, max_examples=25)
@given(payload=st.one_of(st.binary(max_size=300), JSON.map(lambda d: json.dumps(d).encode())))
@example(payload=b"[" * 100_000)
async def test_garbage_rest_body_while_polling_is_survived(
    payload: bytes, agent: SimAgent, server: SimServer, run_source: Callable[..., Any]
) -> None:
    server.stream_enabled = False  # an older server: the source polls the snapshot
    rec = await _source_for(server, run_source, poll_interval=0.01, stream_retry=60.0)
    server.faults.append(Fault("garbage", payload=payload, path=STATUS_PATH))
    await eventually(lambda: not server.faults)  # the next poll got the garbage
    mark = rec.mark()
    key = _next_session(agent)
    status = await rec.wait_for(lambda s: _keys(s) == [key], start=mark, within=5)
    assert status.connection is ConnectionState.CONNECTED and status.detail == "polling"


# -- configs ------------------------------------------------------------------------------


def toml_str(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_str(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(data: dict[str, Any]) -> str:
    """A TOML file for ``data``: every table inline, every key quoted."""
    return "".join(f"{toml_str(k)} = {toml_value(v)}\n" for k, v in data.items())


# TOML has no null: values without None.
TOML_ANY = nested(scalars(12), key_size=6, size=3, leaves=8)
# What a typo or a slip puts in a config: out-of-range and non-finite numbers first.
JUNK = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 0, -1, 0.0, 1e300, -(2**63), "", "x"]),
    TOML_ANY,
)

# Valid configs first; mutations then break them in one or two places.
SECONDS = st.floats(min_value=0.01, max_value=1e5)
LOOK = st.fixed_dictionaries(
    {},
    optional={
        "color": st.sampled_from(["orange", "#ff8000", "#f80", "Teal"]),
        "effect": st.sampled_from(["solid", "off", "blink", "pulse", "breathe"]),
        "period": SECONDS,
        "brightness": st.floats(0, 1),
        "label": st.sampled_from(["{tool}", "{nope}", "{", "x"]),
        "icon": st.text(max_size=5),
        "text": st.text(max_size=5),
    },
)
POCKETPAW = st.fixed_dictionaries(
    {"type": st.just("pocketpaw")},
    optional={
        "name": st.sampled_from(["pp", "other"]),
        "url": st.sampled_from(["http://127.0.0.1:8888", "https://paw.example:443/x"]),
        "api_key": st.text(max_size=8),
        "token": st.text(max_size=8),
        **{
            name: SECONDS
            for name in (
                "stale_after",
                "poll_interval",
                "stream_retry",
                "auth_retry",
                "error_ttl",
                "connect_timeout",
                "request_timeout",
            )
        },
        "reconnect_min": st.floats(0.01, 1),
        "reconnect_max": st.floats(1, 100),
        "fallback_after": st.integers(1, 10),
        "max_frame_bytes": st.integers(1024, 2**40),
    },
)
DEVICE = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("terminal")},
        optional={
            "stream": st.sampled_from(["stdout", "stderr"]),
            "color": st.sampled_from(["auto", "always", "never"]),
            "width": st.integers(0, 500),
        },
    ),
    st.fixed_dictionaries({"type": st.just("record")}, optional={"path": st.just("r.jsonl")}),
    st.fixed_dictionaries(
        {"type": st.just("mock")},
        optional={
            "fail_open": st.integers(0, 5),
            "fail_show": st.integers(-1, 5),
            "hang_show": st.booleans(),
            "fault": st.sampled_from(["unavailable", "error"]),
            "fps": st.floats(0.1, 120),
            "write_timeout": SECONDS,
        },
    ),
).flatmap(
    lambda d: st.fixed_dictionaries(
        {},
        optional={"show": st.sampled_from(["session", "global"])},
    ).map(lambda extra: {**d, **extra})
)
THEME = st.fixed_dictionaries(
    {},
    optional={
        "global": st.dictionaries(
            st.sampled_from(["idle", "active", "degraded", "disconnected"]), LOOK, max_size=2
        ),
        "session": st.dictionaries(st.sampled_from(SESSION_STATES[:5]), LOOK, max_size=2),
        "tool": st.dictionaries(st.sampled_from(["bash", "x"]), LOOK, max_size=2),
        "channel": st.dictionaries(st.sampled_from(["discord", "y"]), LOOK, max_size=2),
    },
)
VALID_CONFIG = st.fixed_dictionaries(
    {
        "sources": st.lists(POCKETPAW, min_size=1, max_size=2, unique_by=lambda d: d.get("name")),
        "devices": st.lists(DEVICE, min_size=1, max_size=2).map(
            lambda ds: [{**d, "name": f"d{i}"} for i, d in enumerate(ds)]
        ),
    },
    optional={
        "bridge": st.fixed_dictionaries(
            {},
            optional={
                "log_level": st.sampled_from(["debug", "info", "warning", "error"]),
                "on_exit": LOOK,
                "shutdown_timeout": st.floats(0.01, 10),
            },
        ),
        "theme": THEME,
    },
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a nested dict/list a mutation can hit."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(data: Any, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
    path = draw(st.sampled_from(_paths(data)))
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    how = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if how == "replace":
        parent[last] = draw(JUNK)
    elif how == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[draw(st.text(max_size=8))] = draw(JUNK)
    else:
        parent.append(draw(JUNK))


@st.composite
def configs(draw: Callable[[st.SearchStrategy[Any]], Any]) -> dict[str, Any]:
    data = draw(VALID_CONFIG)
    for _ in range(draw(st.integers(0, 2))):
        _mutate(data, draw)
    return data


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("configs")


def _floats_in(value: Any, where: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, float):
        yield where, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _floats_in(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _floats_in(v, f"{where}[{k!r}]")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _floats_in(v, f"{where}[{i}]")


def _check_load(path: Path, parses: bool) -> Config | None:
    try:
        config = load_config(path)
    except ConfigError as err:
        text = str(err)
        assert text.startswith(f"{path}: "), text
        if parses:
            assert err.key is not None, f"no key named: {text}"
            # (A key spelled "" can only be named by its absence.)
            assert not err.key or text.startswith(f"{path}: {err.key}: "), text
        return None
    # Anything that loads is runnable: no NaN or infinite seconds, colors, brightness.
    for where, number in _floats_in(config):
        assert math.isfinite(number), f"{where} = {number!r} was accepted"
    return config


@settings(max_examples=400, deadline=None)
@given(data=configs())
def test_any_config_loads_or_says_which_key_is_wrong(
    data: dict[str, Any], config_dir: Path
) -> None:
    path = config_dir / "agentlight.toml"
    path.write_text(toml_document(data), "utf-8")
    if not _has_nan(data):  # the writer is right (NaN never equals itself)
        assert tomllib.loads(path.read_text("utf-8")) == data
    _check_load(path, parses=True)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(max_size=200) | st.sampled_from(["[[sources]]\ntype = 'pocketpaw'\n[x", "a = "])
)
def test_any_text_as_config_raises_config_error_naming_the_file(
    text: str, config_dir: Path
) -> None:
    path = config_dir / "text.toml"
    path.write_text(text, "utf-8")
    try:
        tomllib.loads(text)
        parses = True
    except tomllib.TOMLDecodeError:
        parses = False
    _check_load(path, parses=parses)


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[[sources]]\ntype = 'pocketpaw'", "sources[0].reconnect_min"),
        ("[[sources]]\ntype = 'pocketpaw'", "sources[0].stale_after"),
        ("[[devices]]\ntype = 'mock'", "devices[0].write_timeout"),
        ("[bridge]", "bridge.shutdown_timeout"),
        ("[theme.global.idle]", "theme.global.idle.period"),
    ],
)
def test_non_finite_numbers_are_refused(table: str, key: str, value: str, tmp_path: Path) -> None:
    """Regression: ``nan`` passed every range check; ``reconnect_min = nan`` made the
    source sleep(nan), which never returns, so it never reconnected."""
    base = {
        "sources": "[[sources]]\ntype = 'pocketpaw'",
        "devices": "[[devices]]\ntype = 'mock'",
    }
    section = key.split(".")[0].split("[")[0]
    base[section] = f"{table}\n{key.rsplit('.', 1)[1]} = {value}"
    path = tmp_path / "c.toml"
    path.write_text("\n".join(base.values()) + "\n", "utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key
    assert str(info.value).startswith(f"{path}: {key}: got ")
    assert "finite" in str(info.value)
