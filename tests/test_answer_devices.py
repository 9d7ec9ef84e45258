"""Answering from every control the input path reaches: what a Stream Deck draws for a
waiting request (its page, its details, holds, the pedal's cursor), a GPIO button
(gpiozero's MockFactory, the virtual clock), the local API, and MQTT commands with
Home Assistant's buttons (a real Mosquitto)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bridge.engine import Device, Engine
from bridge.pipeline.answers import AnswerOptions, Armed, Cursor, DeskView, annotate
from bridge.pipeline.asks import answer_choices, permission_choices
from bridge.pipeline.looks import Color, Effect, Look
from bridge.pipeline.model import (
    AgentStatus,
    Ask,
    AskKind,
    GlobalState,
    Session,
    SessionRef,
    SessionState,
    SourceStatus,
)
from bridge.pipeline.status_json import status_to_json
from bridge.pipeline.theme import default_theme
from devices.button.gpio import GpioButtonDriver, GpioButtonOptions
from devices.mqtt.commands import Command, parse_command
from devices.mqtt.discovery import COMMAND_BUTTONS, discovery_messages
from devices.mqtt.publisher import MqttDriver, MqttOptions
from harness.vclock import run_virtual
from tests.api_rig import api_rig
from tests.conftest import eventually
from tests.enginerig import Recording

pytest.importorskip("PIL")

from devices.streamdeck.layout import (
    Answering,
    Geometry,
    Placed,
    View,
    layout,
)
from devices.streamdeck.render import Face, render_key

MK2 = Geometry(15, 5, 3)
MINI = Geometry(6, 3, 2)
LOOK = Look(Color.from_bytes(0xFF, 0xB0, 0x00), Effect.BLINK, 1.0, label="Waiting for you")
REF = SessionRef("hooks", "s1")


def permission(command: str = "npm test", ask_id: str = "r1") -> Ask:
    return Ask(
        ask_id,
        AskKind.PERMISSION,
        f"Bash: {command}",
        permission_choices(),
        tool="Bash",
        command=command,
        cwd="/p",
    )


def session(ask: Ask | None, key: str = "s1", *, stoppable: bool = False) -> Session:
    state = SessionState.WAITING_FOR_USER if ask is not None else SessionState.TOOL_RUNNING
    return Session(key, key, "claude", state, source="hooks", ask=ask, stoppable=stoppable)


def view_of(
    *sessions: Session,
    geometry: Geometry = MK2,
    desk: DeskView | None = None,
    details: SessionRef | None = None,
    options: AnswerOptions | None = None,
    mono: float = 0.0,
) -> View:
    status = annotate(
        AgentStatus.fold((SourceStatus.connected("hooks", sessions, state=GlobalState.ACTIVE),)),
        options or AnswerOptions(),
    )
    placed = [Placed(i, s, LOOK) for i, s in enumerate(status.sessions)]
    return layout(
        geometry,
        status,
        LOOK,
        placed,
        1000.0,
        details=details,
        answering=Answering(desk, "deck", mono),
    )


def choices(view: View) -> list[tuple[int, str, Face]]:
    return [
        (k, r.action, view.faces[k]) for k, r in enumerate(view.roles) if r.kind == "choice"
    ]


def test_a_waiting_request_gets_its_choices_on_its_page() -> None:
    view = view_of(session(permission()), session(None, "s2"))
    keys = choices(view)
    assert [(k, a) for k, a, _ in keys] == [(3, "allow"), (4, "deny")]
    allow, deny = keys[0][2], keys[1][2]
    assert (allow.title, deny.title) == ("Allow", "Deny")
    assert "hold" in allow.footer and deny.footer == ""  # Allow says how
    assert view.roles[3].session == REF
    assert view.faces[1].footer != "press to answer"


def test_a_dangerous_request_is_drawn_locked_under_safe_and_in_danger_colour_under_all() -> None:
    view = view_of(session(permission("rm -rf /")))
    allow = choices(view)[0][2]
    assert allow.header == "KEYBOARD" and "dangerous (rm -rf)" in allow.lines
    view = view_of(session(permission("rm -rf /")), options=AnswerOptions(allow_from_device="all"))
    allow = choices(view)[0][2]
    assert allow.header == "DANGER" and allow.frame == (255, 45, 0) and allow.lines == ("rm -rf",)


def test_a_hold_fills_a_bar_and_a_first_press_asks_for_another() -> None:
    held = Armed("deck", "key:3", REF, "r1", "allow", "Allow", 10.0, True, 13.0)
    view = view_of(session(permission()), desk=DeskView(armed=(held,)), mono=10.3)
    allow = choices(view)[0][2]
    assert allow.progress == 0.5 and allow.footer == "hold..."
    view = view_of(session(permission()), desk=DeskView(armed=(held,)), mono=10.7)
    assert choices(view)[0][2].progress == 1.0 and choices(view)[0][2].footer == "release"
    waiting = Armed("deck", "key:3", REF, "r1", "allow", "Allow", 10.0, False, 13.0)
    allow = choices(view_of(session(permission()), desk=DeskView(armed=(waiting,))))[0][2]
    assert allow.footer == "press again" and allow.frame == (255, 255, 255)
    # Another device's hold is that device's to draw.
    other = Armed("api", "api", REF, "r1", "allow", "Allow", 10.0, True, 13.0)
    allow = choices(view_of(session(permission()), desk=DeskView(armed=(other,)), mono=10.3))[0][2]
    assert allow.progress is None
    # The bar is drawn: the bottom row's left part lit, its right part not yet.
    image = render_key(Face("choice", (0, 130, 60), None, "", "Allow", progress=0.5), (72, 72))
    assert image.getpixel((5, 69)) == (255, 255, 255)
    assert image.getpixel((66, 69)) != (255, 255, 255)


def test_the_pedals_cursor_is_framed() -> None:
    desk = DeskView(cursor=Cursor(REF, "r1", 1))
    keys = choices(view_of(session(permission()), desk=desk))
    assert keys[1][2].frame == (255, 215, 0) and keys[0][2].frame is None


def test_no_room_on_the_page_says_press_to_answer_and_details_hold_the_choices() -> None:
    options = answer_choices(["Yes", "No", "Later", "Never"])
    question = Ask("q1", AskKind.QUESTION, "Deploy now?", options)
    sessions = [session(question), *(session(None, f"x{i}") for i in range(2))]
    view = view_of(*sessions, geometry=MINI)
    assert choices(view) == []
    assert view.faces[1].footer == "press to answer"
    view = view_of(*sessions, geometry=MINI, details=REF)
    assert [a for _, a, _ in choices(view)] == ["answer:1", "answer:2", "answer:3", "answer:4"]
    assert view.faces[1].kind == "details" and "Deploy now?" in view.faces[1].lines


def test_details_offer_later_and_stop() -> None:
    view = view_of(session(permission(), stoppable=True), details=REF)
    assert [a for _, a, _ in choices(view)] == ["allow", "deny", "dismiss", "stop"]
    stop = choices(view)[-1][2]
    assert stop.header == "STOP RUN" and "hold" in stop.footer
    # A running session (no request) that can be stopped: its details have the Stop key.
    view = view_of(session(None, stoppable=True), details=REF)
    assert [a for _, a, _ in choices(view)] == ["stop"]


def test_a_request_answered_elsewhere_shows_where() -> None:
    ask = Ask("q1", AskKind.QUESTION, "Go?", answer_choices(["Yes"]), where="in Telegram")
    view = view_of(session(ask))
    assert choices(view) == []
    assert view.faces[2].lines == ("in Telegram",) and view.roles[2].kind == "blank"


def test_what_the_desk_did_shows_on_the_session_key() -> None:
    from bridge.pipeline.answers import Note

    desk = DeskView(notes=(Note(REF, "Allow sent", 99.0),))
    view = view_of(session(permission()), desk=desk)
    assert view.faces[1].footer == "Allow sent"


# -- the engine around a device, with a source that records what it is asked ----------


def question_of(key: str = "s1") -> Session:
    ask = Ask(f"q-{key}", AskKind.QUESTION, "Deploy?", answer_choices(["Yes", "No", "Later"]))
    return session(ask, key)


# -- a GPIO button, on gpiozero's MockFactory and the virtual clock ---------------------


def _button_bridge(
    **options: Any,
) -> tuple[Engine, Recording, GpioButtonDriver, Any]:
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    loop = asyncio.get_running_loop()
    button = GpioButtonDriver(
        "button", GpioButtonOptions(pin=26, bounce_time=0, **options), pin_factory=factory
    )
    engine = Engine([Device(button)], default_theme(), clock=loop.time)
    return engine, Recording(engine.publish), button, factory.pin(26)


def test_one_button_goes_to_the_next_choice_and_a_hold_chooses_it() -> None:
    pytest.importorskip("gpiozero")

    async def main() -> None:
        engine, source, button, pin = _button_bridge()
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run([source], stop))
        source.show(question_of())
        await eventually(lambda: button.is_open and button.last_frame is not None)
        for _ in range(2):  # first the first choice, then the next
            pin.drive_low()
            await asyncio.sleep(0.2)
            pin.drive_high()
            await asyncio.sleep(0.1)
        cursor = engine.desk.view().cursor
        assert cursor is not None and cursor.index == 1  # "No"
        assert source.decisions == []
        pin.drive_low()
        await asyncio.sleep(0.7)  # virtual seconds: the hold chooses
        decision = await source.decided()
        assert (decision.action, decision.label) == ("answer:2", "No")
        pin.drive_high()
        stop.set()
        await task

    run_virtual(main, real_budget=20.0)


def test_a_held_button_allows_and_a_short_one_does_not() -> None:
    pytest.importorskip("gpiozero")

    async def main() -> None:
        engine, source, button, pin = _button_bridge(gesture="press", action="allow")
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run([source], stop))
        source.show(session(permission()))
        await eventually(lambda: button.is_open and button.last_frame is not None)
        pin.drive_low()
        await asyncio.sleep(0.2)
        pin.drive_high()  # a stray tap: nothing…
        await asyncio.sleep(5.0)  # …and the window for a second press closes
        assert source.decisions == [] and engine.desk.view().armed == ()
        pin.drive_low()
        await asyncio.sleep(0.8)
        pin.drive_high()  # held: allowed
        decision = await source.decided()
        assert (decision.action, decision.gesture, decision.device) == ("allow", "hold", "button")
        stop.set()
        await task

    run_virtual(main, real_budget=20.0)


def test_gpio_button_options_are_checked() -> None:
    with pytest.raises(ValueError, match="pin"):
        GpioButtonOptions(pin=40)
    with pytest.raises(ValueError, match="hold_time"):
        GpioButtonOptions(hold_time=0.3)
    with pytest.raises(ValueError, match="action"):
        GpioButtonOptions(gesture="press", action="brightness")


# -- the local API ---------------------------------------------------------------------


async def test_an_answer_from_the_api_needs_the_token(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        source = Recording(rig.engine.publish)
        await rig.engine.add_source(source)
        source.show(session(permission()), question_of("s2"))
        body = {"target": "session", "source": "hooks", "key": "s1", "action": "deny"}
        async with rig.client() as client:
            refused = await client.post("/v1/input", json=body)
            assert refused.status_code == 401 and source.decisions == []
            auth = {"Authorization": f"Bearer {rig.token}"}
            accepted = await client.post("/v1/input", json=body, headers=auth)
            assert accepted.status_code == 202
            decision = await source.decided()
            assert (decision.ref, decision.action, decision.device) == (REF, "deny", "api")
            # No session named: the first request with that choice.
            body = {"target": "control", "action": "answer:3"}
            assert (await client.post("/v1/input", json=body, headers=auth)).status_code == 202
            decision = await source.decided()
            assert (decision.ref.key, decision.label) == ("s2", "Later")


# -- MQTT, with a real Mosquitto ---------------------------------------------------------


def test_mqtt_commands_parse() -> None:
    assert parse_command(b"deny") == Command("deny")
    assert parse_command(b' {"action": "answer:2", "source": "pp", "key": "websocket:a"}') == (
        Command("answer:2", SessionRef("pp", "websocket:a"))
    )
    for bad in (b"brightness", b"{", b"[1]", b'{"action": "allow", "x": 1}', b"\xff", b"a" * 2000):
        with pytest.raises(ValueError):
            parse_command(bad)


def test_home_assistant_gets_buttons_and_a_request_sensor() -> None:
    jinja2 = pytest.importorskip("jinja2")
    plain = discovery_messages(prefix="agentlight/desk", discovery_prefix="ha", device_name="d")
    with_buttons = discovery_messages(
        prefix="agentlight/desk", discovery_prefix="ha", device_name="d", commands=True
    )
    assert len(with_buttons) == len(plain) + len(COMMAND_BUTTONS) + 1
    configs = dict(with_buttons)
    deny = configs["ha/button/agentlight_desk/command_deny/config"]
    assert (deny["command_topic"], deny["payload_press"]) == ("agentlight/desk/command", "deny")
    template = configs["ha/sensor/agentlight_desk/request/config"]["value_template"]
    env = jinja2.Environment(extensions=["jinja2.ext.loopcontrols"])
    hooks = SourceStatus.connected("hooks", (session(None, "s0"), session(permission())))
    status = annotate(AgentStatus.fold((hooks,)), AnswerOptions())
    doc = status_to_json(status, 0.0)
    assert env.from_string(template).render(value_json=doc) == "Bash: npm test [Allow / Deny]"
    idle = status_to_json(AgentStatus.fold(()), 0.0)
    assert env.from_string(template).render(value_json=idle) == "none"


async def _mqtt_bridge(
    broker: Any, **options: Any
) -> tuple[Engine, Recording, MqttDriver, asyncio.Event, asyncio.Task[None]]:
    opts = MqttOptions(
        **{**broker.options, "reconnect_min": 0.02, "reconnect_max": 0.1},
        prefix="agentlight/desk",
        **options,
    )
    driver = MqttDriver("mqtt", opts)
    engine = Engine([Device(driver)], default_theme())
    source = Recording(engine.publish)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([source], stop))
    # Its first status goes out after it has subscribed to its command topic.
    await eventually(lambda: driver.publishes >= 1)
    return engine, source, driver, stop, task


async def test_mqtt_commands_are_refused_unless_allowed(tmp_path: Path) -> None:
    aiomqtt = pytest.importorskip("aiomqtt")
    from tests.mosquitto import Broker

    broker = Broker(tmp_path)
    broker.start()
    try:
        _, source, driver, stop, task = await _mqtt_bridge(broker)
        source.show(session(permission()))
        async with aiomqtt.Client(broker.host, broker.port) as client:
            await client.publish("agentlight/desk/command", b"deny", qos=1)
            await eventually(lambda: driver.refused == 1)
        assert source.decisions == []
        stop.set()
        await task

        _, source, driver, stop, task = await _mqtt_bridge(broker, allow_commands=True)
        source.show(session(permission()))
        async with aiomqtt.Client(broker.host, broker.port) as client:
            # Home Assistant's Allow button, pressed once: nothing; twice: allowed.
            config = await _retained_config(
                client, "homeassistant/button/agentlight_desk/command_allow/config"
            )
            await client.publish(config["command_topic"], config["payload_press"], qos=1)
            await eventually(lambda: driver.commands == 1)
            await asyncio.sleep(0.3)
            assert source.decisions == []
            await client.publish(config["command_topic"], config["payload_press"], qos=1)
            decision = await source.decided()
            assert (decision.action, decision.gesture, decision.device) == (
                "allow",
                "second press",
                "mqtt",
            )
            await client.publish("agentlight/desk/command", b'{"action": "nope"}', qos=1)
            await eventually(lambda: driver.refused == 1)
        stop.set()
        await task
    finally:
        broker.stop()


async def _retained_config(client: Any, topic: str) -> dict[str, Any]:
    await client.subscribe(topic, qos=1)
    async with asyncio.timeout(5):
        async for message in client.messages:
            if message.topic.value == topic and message.payload:
                config: dict[str, Any] = json.loads(message.payload)
                await client.unsubscribe(topic)
                return config
    raise AssertionError("no config")


# -- the terminal line names the keys, or says where to answer --------------------------


async def test_the_terminal_line_names_the_keys_or_says_where_to_answer() -> None:
    import io

    from devices.streamdeck.driver import StreamDeckDriver, StreamDeckOptions
    from devices.terminal import TerminalDriver

    out = io.StringIO()
    terminal = TerminalDriver("term", stream=out)
    deck = StreamDeckDriver("deck", StreamDeckOptions(dummy=True))
    engine = Engine([Device(terminal), Device(deck)], default_theme())
    source = Recording(engine.publish)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([source], stop))
    try:
        source.show(session(permission()))
        await eventually(
            lambda: "Bash: npm test? Allow / Deny (keys on Stream Deck deck; "
            "hold Allow or press it twice)" in out.getvalue()
        )
        telegram = Ask("q1", AskKind.QUESTION, "Go?", answer_choices(["Yes"]), where="in Telegram")
        source.show(session(telegram))
        await eventually(lambda: "Go? (answer in Telegram)" in out.getvalue())
        await engine.remove_device("deck")
        source.show(session(permission("make", "r2")))
        await eventually(
            lambda: "Bash: make? Allow / Deny (answer it where the agent runs)" in out.getvalue()
        )
    finally:
        stop.set()
        await task


async def test_a_cut_line_keeps_where_to_answer() -> None:
    """On an 80-column line the request's own words give way, not where to answer it."""
    import io

    from devices.streamdeck.driver import StreamDeckDriver, StreamDeckOptions
    from devices.terminal import TerminalDriver, TerminalOptions

    out = io.StringIO()
    terminal = TerminalDriver("term", TerminalOptions(width=80), stream=out)
    deck = StreamDeckDriver("deck", StreamDeckOptions(dummy=True))
    engine = Engine([Device(terminal), Device(deck)], default_theme())
    source = Recording(engine.publish)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run([source], stop))
    question = Ask(
        "q1",
        AskKind.QUESTION,
        "Deploy the fixed script to every production host now?",
        answer_choices(["Yes, deploy", "Not yet"]),
    )

    def lines() -> list[str]:
        return out.getvalue().splitlines()

    try:
        source.show(session(permission("npm run build && npm test -- --coverage --verbose")))
        await eventually(lambda: any("Deny (keys on Stream Deck deck" in line for line in lines()))
        source.show(session(replace(question, where="in Telegram")))
        await eventually(lambda: any(line.endswith("(answer in Telegram)") for line in lines()))
        await engine.remove_device("deck")
        # Its title follows on the line, and is what a cut line loses.
        source.show(replace(session(question), title="Fix the flaky deploy script"))
        await eventually(
            lambda: any("Not yet (answer it where the agent runs)" in line for line in lines())
        )
    finally:
        stop.set()
        await task
    assert all(len(line) <= 80 for line in lines()), lines()
    asked = [line for line in lines() if "Deploy" in line]
    # Both ends of the request stay: what it asks, and its last choice.
    assert len(asked) == 2 and all("Deploy the" in line for line in asked), asked
    assert "Not yet (answer it where the agent runs)" in asked[1]
