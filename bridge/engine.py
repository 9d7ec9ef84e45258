"""The engine: sources publish, the mapping runs once per change, devices show.

One task per source and one per device, each supervised: a source or device
loop that dies of an unexpected error is logged once with its traceback and
restarted with back-off, so a bug in one driver never takes another driver or a
source with it. A device task sleeps until the status changes, its next effect
step is due or its refresh period ends, so nothing runs while every look is
static. A device that fails is logged once per episode, marked unhealthy and
reopened with back-off; the others never wait for it.

Doors for what comes later, all usable while running: input events from
devices (routed back to the driver's own actions, then to sources) and from
elsewhere (``send_input``: the local API), a redraw on request
(``Driver.invalidate``), theme swaps that keep effect phases, devices and
sources added, removed or replaced one at a time, and a word after every change
of looks (``watch``: the local API's event stream).

Answering from a device (:mod:`bridge.pipeline.answers`): every input event also
passes the engine's :class:`~bridge.pipeline.answers.Desk`, which applies the
``[answers]`` rules and the deliberate gesture; each decision goes to the source
that owns the session (``Source.answer``) and is logged. What the desk waits
for (a hold, a second press) rides along in every frame (``Frame.desk``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bridge.infra.backoff import Backoff
from bridge.infra.errors import DriverError, DriverFault
from bridge.pipeline.answers import (
    AnswerOptions,
    Decision,
    Desk,
    Refusal,
    annotate_source,
    describe_decision,
    describe_refusal,
)
from bridge.pipeline.frame import Frame
from bridge.pipeline.inputs import InputEvent
from bridge.pipeline.looks import Look
from bridge.pipeline.mapping import Mapped, Mapper, ShowMode, frame_for, next_wake
from bridge.pipeline.model import AgentStatus, ConnectionState, SourceStatus
from bridge.pipeline.slots import SlotMap
from bridge.pipeline.theme import Theme
from bridge.sources.base import Source
from bridge.text.textsafe import clean
from devices.base import Driver, Health

log = logging.getLogger("agentlight.engine")
T = TypeVar("T")

# Presses queued beyond this are dropped: a stuck action must not grow memory.
_INPUT_QUEUE = 64


@dataclass
class Device:
    """A driver plus how the engine feeds it."""

    driver: Driver
    show: ShowMode = "session"


class Engine:
    """Runs sources and devices until ``stop`` is set.

    :param clock: monotonic time, for effects; tests may pass a fake one.
    :param device_retry: (first, max) seconds between reopen attempts.
    :param on_exit: the look left on devices when stopping; None = dark.
    """

    def __init__(
        self,
        devices: Sequence[Device],
        theme: Theme,
        *,
        on_exit: Look | None = None,
        shutdown_timeout: float = 0.8,
        device_retry: tuple[float, float] = (0.5, 30.0),
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        answers: AnswerOptions | None = None,
    ) -> None:
        self.desk = Desk(answers)
        self._desk_timer: asyncio.TimerHandle | None = None
        self._ways: tuple[str, ...] = ()
        self.mapper = Mapper(theme)
        self.on_exit = on_exit
        self.shutdown_timeout = shutdown_timeout
        self.clock = clock
        self._rand = rand
        self._device_retry = device_retry
        self._sources: dict[str, SourceStatus] = {}
        self.status = AgentStatus.fold(())
        self.mapped: Mapped = self.mapper.map(self.status, clock())
        self.version = 0
        self._runners: dict[str, _DeviceRunner] = {}
        self._device_tasks: dict[str, asyncio.Task[None]] = {}
        self._source_objs: dict[str, Source] = {}
        self._source_tasks: dict[str, asyncio.Task[None]] = {}
        self._inputs: asyncio.Queue[InputEvent] | None = None
        self._router: asyncio.Task[None] | None = None
        self._running = False
        self.ready = asyncio.Event()
        #: Set when what the service status tells may have changed (the agent's state,
        #: a device's health or first look, the device list); the reader clears it.
        #: Lets systemd's STATUS= follow changes instead of polling for them.
        self.news = asyncio.Event()
        #: Devices whose first open failed: reported, never holding ``ready``.
        self.not_ready: set[str] = set()
        self._pending_first: set[str] = set()
        self._watchers: list[Callable[[], None]] = []
        for device in devices:
            self._add_runner(device)

    @property
    def devices(self) -> list[Device]:
        return [r.device for r in self._runners.values()]

    def device_health(self) -> dict[str, Health]:
        return {name: r.device.driver.health for name, r in self._runners.items()}

    def loop_alive(self) -> bool:
        """True while the engine runs its supervisors (for a watchdog ping).

        Each task restarts what it supervises after any crash, so one that has
        ended means the engine itself is broken; a device or source that keeps
        failing is reported as unhealthy instead, and must not restart the bridge.
        """
        tasks = [*self._device_tasks.values(), *self._source_tasks.values()]
        if self._router is not None:
            tasks.append(self._router)
        return self._running and not any(t.done() for t in tasks)

    # -- status in ----------------------------------------------------------

    def publish(self, status: SourceStatus) -> None:
        """Called by sources whenever their connection state or snapshot changes."""
        # Open requests get the rules' verdict here, so every device shows what the desk enforces.
        self._sources[status.name] = annotate_source(status, self.desk.options)
        self._refold()

    def _refold(self) -> None:
        agent = AgentStatus.fold(tuple(self._sources.values()))
        if agent == self.status:
            return
        if agent.state != self.status.state:
            detail = next(
                (
                    s.detail
                    for s in agent.sources
                    if s.connection is not ConnectionState.CONNECTED and s.detail
                ),
                None,
            )
            log.info(
                "agent: %s%s%s",
                agent.state.value,
                f" ({len(agent.sessions)} session{'s' if len(agent.sessions) != 1 else ''})"
                if agent.sessions
                else "",
                f" — {detail}" if detail and agent.state.from_bridge else "",
            )
        elif log.isEnabledFor(logging.DEBUG):
            log.debug(
                "sessions: %s",
                ", ".join(
                    f"{s.ref} {s.state.value}{f'({s.tool})' if s.tool else ''}"
                    for s in agent.sessions
                )
                or "none",
            )
        self.status = agent
        self.desk.sync(agent)
        self.news.set()
        self._remap()

    def set_answers(self, options: AnswerOptions) -> None:
        """Swap the ``[answers]`` rules at run time (a reload); open requests are judged again."""
        if options == self.desk.options:
            return
        self.desk.set_options(options)
        self._sources = {n: annotate_source(s, options) for n, s in self._sources.items()}
        self._refold()
        self._desk_changed()

    def set_theme(self, theme: Theme) -> None:
        """Swap the theme at run time; looks it leaves unchanged keep their effect phase."""
        self.mapper.set_theme(theme)
        self._remap()

    def _remap(self) -> None:
        try:
            self.mapped = self.mapper.map(self.status, self.clock())
        except Exception:
            # A mapping bug must not take the source down with it: keep the
            # last looks and say so.
            log.exception("mapping failed for %s; keeping the last looks", self.status.state)
            return
        self.version += 1
        for runner in self._runners.values():
            runner.wake.set()
        for watcher in tuple(self._watchers):
            try:
                watcher()
            except Exception:
                # A watcher's bug must not stop the devices or the other watchers.
                log.exception("a change watcher failed; the others carry on")

    def watch(self, watcher: Callable[[], None]) -> Callable[[], None]:
        """Call ``watcher()`` after every change of looks (status or theme); returns
        a function that stops it.

        It runs inside the change (a source's publish), so it only notes that
        something changed and reads ``mapped`` later: a watcher that keeps only
        the newest state can never fall behind.
        """
        self._watchers.append(watcher)

        def unwatch() -> None:
            with contextlib.suppress(ValueError):
                self._watchers.remove(watcher)

        return unwatch

    def _first_attempt_done(self, name: str, *, failed: bool = False) -> None:
        if failed:
            self.not_ready.add(name)
        else:
            self.not_ready.discard(name)
        self._pending_first.discard(name)
        if not self._pending_first:
            self.ready.set()
        self.news.set()

    # -- devices and sources at run time ------------------------------------

    def _add_runner(self, device: Device) -> _DeviceRunner:
        name = device.driver.name
        if name in self._runners:
            raise ValueError(f"a device named {name!r} is already running")
        runner = _DeviceRunner(self, device)
        self._runners[name] = runner
        self._pending_first.add(name)
        self.ready.clear()
        self.news.set()
        device.driver.attach(self._on_input, runner.redraw)
        if self._running:
            self._device_tasks[name] = asyncio.create_task(runner.keep(), name=f"device:{name}")
        return runner

    async def add_device(self, device: Device) -> None:
        """Start showing on ``device`` (its first look counts toward ``ready``)."""
        self._add_runner(device)

    async def remove_device(self, name: str, *, blank: bool = True) -> None:
        """Stop feeding device ``name`` and leave it dark; the others are untouched."""
        runner = self._runners.pop(name, None)
        if runner is None:
            raise KeyError(name)
        task = self._device_tasks.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._pending_first.discard(name)
        self.not_ready.discard(name)
        if not self._pending_first:
            self.ready.set()
        self._note_ways()
        await self._leave(runner, self.on_exit if not blank else None)
        self.news.set()

    async def replace_device(self, device: Device) -> None:
        """Swap the device of the same name for ``device`` (a changed config entry)."""
        await self.remove_device(device.driver.name)
        await self.add_device(device)

    async def add_source(self, source: Source) -> None:
        if source.name in self._source_objs:
            raise ValueError(f"a source named {source.name!r} is already running")
        self._source_objs[source.name] = source
        if self._running:
            self._source_tasks[source.name] = asyncio.create_task(
                self._supervise(source), name=f"source:{source.name}"
            )

    async def remove_source(self, name: str) -> None:
        """Stop source ``name`` and forget what it said (its sessions leave the devices)."""
        self._source_objs.pop(name, None)
        task = self._source_tasks.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._sources.pop(name, None) is not None:
            self._refold()

    @property
    def sources(self) -> list[Source]:
        return list(self._source_objs.values())

    # -- input --------------------------------------------------------------

    def send_input(self, event: InputEvent) -> bool:
        """Put ``event`` on the input path, as a device's press: to the driver named
        ``event.device`` (if any), then to every source. False when it was dropped
        (the engine is not running, or presses come faster than they are handled).
        """
        queue = self._inputs
        if queue is None:
            return False
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning(
                "device %s: presses are coming faster than they are handled; dropping one",
                event.device,
            )
            return False
        return True

    def _on_input(self, event: InputEvent) -> None:
        self.send_input(event)

    async def _route_inputs(self, queue: asyncio.Queue[InputEvent]) -> None:
        while True:
            crash = await _crash_of(self._route_inputs_once(queue))
            # Not reached unless routing itself has a bug: presses must keep flowing.
            log.error("routing device input crashed; carrying on", exc_info=crash)
            await asyncio.sleep(1.0)

    async def _route_inputs_once(self, queue: asyncio.Queue[InputEvent]) -> None:
        while True:
            event = await queue.get()
            runner = self._runners.get(event.device)
            if runner is not None:
                driver = runner.device.driver
                try:
                    await _bounded(driver.handle_input(event), driver.caps.write_timeout)
                except Exception as err:
                    log.warning(
                        "device %s: action for %s failed: %s",
                        event.device,
                        event.control,
                        err or type(err).__name__,
                    )
            await self._answer(event)
            for source in list(self._source_objs.values()):
                try:
                    await _bounded(source.on_input(event), 5.0)
                except Exception as err:
                    log.warning(
                        "source %s: could not act on %s: %s",
                        source.name,
                        event.control,
                        err or type(err).__name__,
                    )

    # -- answering from devices ----------------------------------------------

    async def _answer(self, event: InputEvent) -> None:
        """The desk's part of a press: decisions to their sources, refusals said."""
        before = self.desk.view()
        outcomes = self.desk.feed(event, self.status, self.clock())
        for outcome in outcomes:
            if isinstance(outcome, Refusal):
                log.warning("answer refused: %s", describe_refusal(outcome, self.status))
            else:
                await self._carry_out(outcome)
        if self.desk.view() != before:
            self._desk_changed()

    async def _carry_out(self, decision: Decision) -> None:
        source = self._source_objs.get(decision.ref.source)
        problem: str | None
        if source is None:
            problem = "its source is not running"
        else:
            try:
                problem = await _bounded(source.answer(decision), 5.0)
            except Exception as err:
                problem = _reason(err)
        # Every decision is logged, carried out or not: who answered what, from where.
        failed = f"; NOT SENT: {clean(problem, 200)}" if problem else ""
        log.info("answer: %s%s", describe_decision(decision), failed)
        if problem:
            self.desk.failed(decision, problem, self.clock())

    def _note_ways(self) -> None:
        """A device opened (a deck knows then whether it has keys): if that changes
        how requests can be answered, lines that say so are redrawn."""
        ways = self.answer_ways()
        if ways != self._ways:
            self._ways = ways
            for runner in self._runners.values():
                runner.wake.set()

    def answer_ways(self) -> tuple[str, ...]:
        """How this bridge's devices answer a waiting request (their ``answer_hint``)."""
        ways = []
        for runner in self._runners.values():
            try:
                hint = runner.device.driver.answer_hint()
            except Exception:  # a driver's bug: it just goes unsaid
                hint = ""
            if hint:
                ways.append(hint)
        return tuple(ways)

    def _desk_changed(self) -> None:
        """The desk's view moved: redraw, and wake up when it next moves by itself."""
        for runner in self._runners.values():
            runner.wake.set()
        if self._desk_timer is not None:
            self._desk_timer.cancel()
            self._desk_timer = None
        due = self.desk.next_change()
        if due is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._desk_timer = loop.call_later(max(0.0, due - self.clock()), self._desk_expired)

    def _desk_expired(self) -> None:
        self._desk_timer = None
        self.desk.expire(self.clock())
        self._desk_changed()

    # -- lifecycle ----------------------------------------------------------

    async def run(self, sources: Sequence[Source], stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then leave devices dark (or ``on_exit``)."""
        for source in sources:
            self._source_objs.setdefault(source.name, source)
        self._inputs = asyncio.Queue(_INPUT_QUEUE)
        self._running = True
        if not self._runners:
            self.ready.set()
        for name, source in self._source_objs.items():
            self._source_tasks[name] = asyncio.create_task(
                self._supervise(source), name=f"source:{name}"
            )
        for name, runner in self._runners.items():
            runner.device.driver.attach(self._on_input, runner.redraw)
            self._device_tasks[name] = asyncio.create_task(runner.keep(), name=f"device:{name}")
        router = asyncio.create_task(self._route_inputs(self._inputs), name="inputs")
        self._router = router
        try:
            await stop.wait()
        finally:
            self._running = False
            self._router = None
            tasks = [router, *self._source_tasks.values(), *self._device_tasks.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._source_tasks.clear()
            self._device_tasks.clear()
            if self._desk_timer is not None:
                self._desk_timer.cancel()
                self._desk_timer = None
            await self._shutdown_devices()

    async def _supervise(self, source: Source) -> None:
        """Run ``source`` forever: a crash is logged once per episode and restarted.

        An episode ends when a run lasts longer than the back-off cap: a source
        that crashes once a day starts again at the shortest pause, with a
        traceback, while one that crashes on every start says so once.
        """
        backoff = Backoff(1.0, 60.0, rand=self._rand)
        loop = asyncio.get_running_loop()
        crashing = False
        while True:
            started = loop.time()
            crash: BaseException | None = None
            try:
                await source.run()
            except asyncio.CancelledError as err:
                if _cancelled():
                    raise
                crash = err  # raised by the source's own code, not a stop
            except Exception as err:
                crash = err
            if loop.time() - started > backoff.maximum:
                backoff.reset()
                crashing = False
            what = "stopped by itself" if crash is None else f"crashed: {_reason(crash)}"
            if not crashing:
                log.error(
                    "source %s %s; restarting with back-off", source.name, what, exc_info=crash
                )
            else:
                log.debug("source %s %s again", source.name, what)
            crashing = True
            # Through the source, so its own record of what it published stays true.
            source.publish(ConnectionState.DISCONNECTED, None, "crashed")
            await asyncio.sleep(backoff.next())

    async def _leave(self, runner: _DeviceRunner, look: Look | None) -> None:
        driver = runner.device.driver
        if not driver.is_open:
            return
        try:
            if look is not None:
                await _bounded(driver.show(runner.exit_frame(look)), self.shutdown_timeout)
                await _bounded(driver.close(blank=False), self.shutdown_timeout)
            else:
                await _bounded(driver.close(blank=True), self.shutdown_timeout)
        except Exception as err:
            reason = "timed out" if isinstance(err, TimeoutError) else err
            log.warning("device %s: could not leave it dark: %s", driver.name, reason)

    async def _shutdown_devices(self) -> None:
        pending = [
            asyncio.create_task(self._leave(r, self.on_exit), name=name)
            for name, r in self._runners.items()
        ]
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=self.shutdown_timeout)
        for task in still:
            log.warning("device %s did not close in time", task.get_name())
            task.cancel()


class _DeviceRunner:
    """Feeds one device: show on change, step effects, refresh, reopen on failure."""

    def __init__(self, engine: Engine, device: Device) -> None:
        self.engine = engine
        self.device = device
        self.wake = asyncio.Event()
        retry_first, retry_max = engine._device_retry
        self._backoff = Backoff(retry_first, retry_max, rand=engine._rand)
        self._failing = False
        self._first = True
        self._slots = SlotMap(device.driver.caps.sessions)
        self._last_write: float | None = None
        self._told: tuple[Health, bool] | None = None

    def redraw(self) -> None:
        self.wake.set()

    # Read from the driver each time: a driver may decide at open time (a
    # terminal that turns out to be a pipe animates nothing).
    def frame(self, now: float) -> Frame:
        driver = self.device.driver
        caps = driver.caps
        if self._slots.size != caps.sessions:
            self._slots.resize(caps.sessions)
        frame = frame_for(
            driver.name,
            self.engine.mapped,
            now,
            show=self.device.show,
            with_sessions=caps.shows_sessions,
            native=caps.native_effects,
            slots=self._slots,
        )
        desk = self.engine.desk.view()
        asking = any(s.ask is not None for s in frame.status.sessions)
        if asking or desk.armed or desk.notes or desk.cursor is not None or desk.answered:
            ways = self.engine.answer_ways()
            frame = dataclasses.replace(
                frame, desk=dataclasses.replace(desk, ways=ways) if ways else desk
            )
        return frame

    def exit_frame(self, look: Look) -> Frame:
        frame = self.frame(self.engine.clock())
        color = look.color.scaled(look.brightness)
        return Frame(
            device=frame.device,
            status=frame.status,
            look=look,
            color=color,
            global_look=look,
            sessions=(),
            focus=None,
            global_color=color,
            t=frame.t,
        )

    async def keep(self) -> None:
        """Run the device loop forever: whatever ends it is logged and it starts again.

        :meth:`run` handles every failure it expects (a device that cannot open
        or show); this is for the rest, a bug in a driver or in the engine's own
        per-device code. The device is let go and reopened after the same
        back-off as a failing device, so a bug hit on every frame costs one
        traceback and one attempt per back-off cap, and no other device waits.
        """
        while True:
            crash = await _crash_of(self.run()) or RuntimeError("the device loop returned")
            self._fail("crashed", crash)
            with contextlib.suppress(Exception):  # the driver is suspect: let go of it anyway
                await self._drop()
            await self._retry_pause()

    async def run(self) -> None:
        driver = self.device.driver
        me = asyncio.current_task()
        while True:
            if me is not None and me.cancelling():
                # Python 3.11's timeouts can swallow a cancel that lands as
                # they expire; honour it here so shutdown never hangs.
                raise asyncio.CancelledError
            caps = driver.caps
            if not driver.is_open:
                try:
                    await _bounded(driver.open(), caps.open_timeout)
                except Exception as err:
                    self._fail("cannot open", err)
                    await self._retry_pause()
                    continue
                self._last_write = None
                caps = driver.caps  # open may have learnt what the hardware can do
                self.engine._note_ways()
            self.wake.clear()
            now = self.engine.clock()
            try:
                frame = self.frame(now)
            except Exception:
                log.exception("device %s: cannot build a frame; waiting for a change", driver.name)
                await self.wake.wait()
                continue
            refresh_due = (
                caps.refresh is not None
                and self._last_write is not None
                and now >= self._last_write + caps.refresh
            )
            try:
                wrote = await _bounded(driver.show(frame, force=refresh_due), caps.write_timeout)
            except Exception as err:
                self._fail("cannot show", err)
                await self._drop()
                await self._retry_pause()
                continue
            if wrote or self._last_write is None:
                self._last_write = now
            if self._failing:
                log.info("device %s: working again", driver.name)
                self._failing = False
                self._backoff.reset()
            if self._first:
                self._first = False
                self.engine._first_attempt_done(driver.name)
            try:
                wake_at = next_wake(
                    self.engine.mapped,
                    now,
                    show=self.device.show,
                    with_sessions=caps.shows_sessions,
                    max_fps=max(0.1, float(caps.fps)),
                    native=caps.native_effects,
                    slots=self._slots,
                    slots_shown=caps.slots_shown,
                )
            except Exception:
                log.exception("device %s: cannot step effects; showing them still", driver.name)
                wake_at = None
            if caps.refresh is not None and self._last_write is not None:
                due = self._last_write + caps.refresh
                wake_at = due if wake_at is None else min(wake_at, due)
            await self._wait(wake_at)

    def _tell(self) -> None:
        """Set the engine's news when this device's health or first look changed.

        Called before every wait, so every change is told once and a frame that
        changes neither (an effect step) costs a comparison, not a wake-up.
        """
        driver = self.device.driver
        now = (driver.health, driver.last_frame is None)
        if now != self._told:
            self._told = now
            self.engine.news.set()

    async def _wait(self, wake_at: float | None) -> None:
        self._tell()
        if wake_at is None:
            await self.wake.wait()
            return
        # A timer that sets the same event, rather than asyncio.timeout(): on
        # Python 3.11 a timeout expiring as the task is cancelled can swallow
        # the cancel, and this wait runs at every effect step.
        loop = asyncio.get_running_loop()
        delay = max(0.0, wake_at - self.engine.clock())
        handle = loop.call_later(delay, self.wake.set)
        try:
            await self.wake.wait()
        finally:
            handle.cancel()

    async def _retry_pause(self) -> None:
        self._tell()
        # Status changes don't shorten this: a dead device gains nothing from them.
        await asyncio.sleep(self._backoff.next())

    def _fail(self, what: str, err: BaseException) -> None:
        driver = self.device.driver
        reason = _reason(err)
        driver.mark_unhealthy(f"{what}: {reason}")
        if not self._failing:
            self._failing = True
            # A bug gets its traceback, once per episode; a device that went away does not.
            log.log(
                logging.ERROR if _is_bug(err) else logging.WARNING,
                "device %s: %s: %s; retrying with back-off (other devices carry on)",
                driver.name,
                what,
                reason,
                exc_info=err if _is_bug(err) else None,
            )
        else:
            log.debug("device %s: still failing: %s", driver.name, reason)
        if self._first:
            self._first = False
            self.engine._first_attempt_done(driver.name, failed=True)

    async def _drop(self) -> None:
        """Let go of a device that failed; closing may hang too, so bound it."""
        driver = self.device.driver
        detail = driver.health.detail
        with contextlib.suppress(Exception):
            await _bounded(driver.close(blank=False), driver.caps.write_timeout)
        driver.forget()
        driver.mark_unhealthy(detail)  # the failure, not "closed", is the news


def _cancelled() -> bool:
    """Whether the current task was asked to stop (not a CancelledError its callee raised)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


async def _crash_of(work: Awaitable[None]) -> BaseException | None:
    """Await ``work``; what it raised (a stray CancelledError included), or None if it returned.

    A cancellation of the current task itself is not a crash: it goes on up.
    """
    try:
        await work
    except asyncio.CancelledError as err:
        if _cancelled():
            raise
        return err
    except Exception as err:
        return err
    return None


def _reason(err: BaseException) -> str:
    return "timed out" if isinstance(err, TimeoutError) else str(err) or type(err).__name__


def _is_bug(err: BaseException) -> bool:
    """An error no device or network explains: a driver's or the engine's own bug."""
    if isinstance(err, DriverFault):
        return not isinstance(err.__cause__, OSError | TimeoutError)
    return not isinstance(err, DriverError | OSError | TimeoutError)


async def _bounded(aw: Awaitable[T], seconds: float) -> T:
    """Await ``aw`` for at most ``seconds`` (TimeoutError after), in this task.

    Not ``asyncio.wait_for``: on Python 3.11 it runs ``aw`` in a new task and
    swallows a cancel that arrives as ``aw`` completes.
    """
    async with asyncio.timeout(seconds):
        return await aw
