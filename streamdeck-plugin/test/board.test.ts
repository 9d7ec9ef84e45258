/** The painter and the board with a fake clock: what is sent, when, and what is not. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Board, type Press } from "../src/board.js";
import { parseStatus } from "../src/model.js";
import { type Clock, Painter } from "../src/painter.js";

/** A clock that moves only when told; timers run in order as it passes them. */
class FakeClock implements Clock {
	t = 1_000_000;
	private timers: { at: number; fn: () => void; id: number }[] = [];
	private next = 0;
	now(): number {
		return this.t;
	}
	setTimeout(fn: () => void, ms: number): unknown {
		const id = this.next++;
		this.timers.push({ at: this.t + ms, fn, id });
		return id;
	}
	clearTimeout(handle: unknown): void {
		this.timers = this.timers.filter((t) => t.id !== handle);
	}
	advance(ms: number): void {
		const end = this.t + ms;
		for (;;) {
			this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
			const due = this.timers[0];
			if (!due || due.at > end) break;
			this.timers.shift();
			this.t = due.at;
			due.fn();
		}
		this.t = end;
	}
	get pending(): number {
		return this.timers.length;
	}
}

describe("painter", () => {
	it("sends an image only when it changes, at once, and at most 10 in any second", () => {
		const clock = new FakeClock();
		const sent: [number, string][] = [];
		const p = new Painter((img) => sent.push([clock.t, img]), clock);
		p.set({ images: ["a"], phaseMs: 0 });
		p.set({ images: ["a"], phaseMs: 0 });
		clock.advance(10);
		p.set({ images: ["b"], phaseMs: 0 });
		assert.deepEqual(sent, [[1_000_000, "a"], [1_000_010, "b"]]);
		// A flood: 30 images in 300 ms; the 10th on waits for the window, the newest winning.
		for (let i = 0; i < 30; i++) {
			p.set({ images: [`f${i}`], phaseMs: 0 });
			clock.advance(10);
		}
		clock.advance(2000);
		for (let i = 0; i < sent.length; i++) {
			const window = sent.filter(([t]) => t > sent[i][0] - 1000 && t <= sent[i][0]);
			assert.ok(window.length <= 10, `${window.length} images in the second before ${sent[i][0]}`);
		}
		assert.equal(sent.at(-1)?.[1], "f29");
		assert.ok(sent.length < 14, `${sent.length} sent`);
	});

	it("blinks between two images at the phase, and stops when told what to show", () => {
		const clock = new FakeClock();
		const sent: string[] = [];
		const p = new Painter((img) => sent.push(img), clock);
		p.set({ images: ["on", "off"], phaseMs: 500 });
		clock.advance(2010);
		assert.deepEqual(sent, ["on", "off", "on", "off", "on"]);
		p.set({ images: ["still"], phaseMs: 0 });
		clock.advance(2000);
		assert.equal(sent.at(-1), "still");
		assert.equal(clock.pending, 0, "no timer left once nothing blinks");
	});
});

function doc(sessions: { key: string; state: string; seconds?: number | null }[], global = "active"): ReturnType<typeof parseStatus> {
	return parseStatus(
		{
			version: 1,
			global,
			look: { color: "#0070ff", label: "Working", brightness: 0.7 },
			sessions: sessions.map((s) => ({
				source: "pp",
				key: s.key,
				state: s.state,
				seconds: s.seconds === undefined ? 0 : s.seconds,
				look: { color: s.state === "waiting_for_user" ? "#ffb000" : "#0070ff", effect: "solid", period: 1, label: s.state },
			})),
			sources: [{ name: "pp", connection: "connected", state: global, active_sessions: sessions.length, max_concurrent: 4 }],
		},
		1_000_000,
	);
}

function setup(): { clock: FakeClock; board: Board; sent: Map<string, string[]>; presses: Press[] } {
	const clock = new FakeClock();
	const presses: Press[] = [];
	const board = new Board(async (p) => (presses.push(p), true), () => undefined, clock);
	const sent = new Map<string, string[]>();
	return { clock, board, sent, presses };
}

function key(board: Board, sent: Map<string, string[]>, id: string, role: "agent" | "session" | "control", settings = {}, column = 0): void {
	sent.set(id, []);
	const push = (img: string): void => void sent.get(id)?.push(img);
	board.appear({ id, role, device: "D", controller: "Keypad", row: 0, column, index: column, settings, surface: { setImage: push, setFeedback: push, showAlert: () => undefined } });
}

describe("board", () => {
	it("ticks a session's time once a second, and stops ticking when no time is shown", () => {
		const { clock, board, sent } = setup();
		key(board, sent, "s", "session", { slot: 1 });
		clock.advance(500); // the offline look it had until the status came
		board.setState({ kind: "live", status: doc([{ key: "a", state: "thinking", seconds: 0 }]) });
		clock.advance(3100);
		assert.equal(sent.get("s")?.length, 5, "offline, 0s, 1s, 2s, 3s");
		board.setState({ kind: "live", status: doc([]) });
		const n = sent.get("s")?.length ?? 0;
		clock.advance(5000);
		assert.equal(sent.get("s")?.length, n);
		assert.equal(clock.pending, 0);
	});

	it("past ten minutes a key changes once a minute, not every second", () => {
		const { clock, board, sent } = setup();
		key(board, sent, "s", "session", { slot: 1 });
		clock.advance(500);
		board.setState({ kind: "live", status: doc([{ key: "a", state: "thinking", seconds: 700 }]) });
		clock.advance(120_000);
		// offline, then 11m, 12m (20 s on), 13m (80 s on): 120 s of ticks, 4 images.
		assert.equal(sent.get("s")?.length, 4);
	});

	it("goes offline on every key at once, and back", () => {
		const { clock, board, sent } = setup();
		key(board, sent, "g", "agent");
		key(board, sent, "s", "session", { slot: 1 }, 1);
		board.setState({ kind: "live", status: doc([{ key: "a", state: "thinking", seconds: null }]) });
		clock.advance(150);
		board.setState({ kind: "offline", why: "lost", detail: "" });
		clock.advance(150);
		const last = (id: string): string => Buffer.from((sent.get(id)?.at(-1) ?? "").split(",")[1] ?? "", "base64").toString();
		assert.match(last("g"), /Offline · agentlight not running/);
		assert.match(last("s"), /SLOT 1 · Offline/);
	});

	it("a press on a session names it; details close on a second press or after 5 s", async () => {
		const { clock, board, sent, presses } = setup();
		key(board, sent, "s1", "session", { slot: 1 });
		key(board, sent, "s2", "session", { slot: 2 }, 1);
		board.setState({ kind: "live", status: doc([{ key: "a", state: "thinking", seconds: null }]) });
		clock.advance(150);
		const words = (id: string): string => /<title>(.*?)<\/title>/.exec(Buffer.from((sent.get(id)?.at(-1) ?? "").split(",")[1] ?? "", "base64").toString())?.[1] ?? "";
		await board.press("s1");
		clock.advance(150);
		assert.equal(presses[0].session?.key, "a");
		assert.match(words("s1"), /DETAILS/);
		assert.match(words("s2"), /SESSION · a/);
		clock.advance(5100);
		assert.match(words("s1"), /^SESSION · thinking$/);
		await board.press("s2"); // an empty slot: nothing to press
		assert.equal(presses.length, 1);
	});

	it("a release goes out after its press, to the same target, even when the press is slow", async () => {
		const clock = new FakeClock();
		const log: string[] = [];
		let first = true;
		const board = new Board(
			async (p) => {
				if (first) {
					first = false;
					await new Promise((r) => setTimeout(r, 50)); // a slow answer to the press
				}
				log.push(`${p.pressed ? "press" : "release"} ${p.session?.key}`);
				return true;
			},
			() => undefined,
			clock,
		);
		const sent = new Map<string, string[]>();
		key(board, sent, "s", "session", { slot: 1 });
		board.setState({ kind: "live", status: doc([{ key: "a", state: "thinking", seconds: null }]) });
		const press = board.press("s");
		board.setState({ kind: "live", status: doc([{ key: "b", state: "thinking", seconds: null }]) });
		await Promise.all([press, board.release("s")]);
		assert.deepEqual(log, ["press a", "release a"]);
		await board.release("s"); // a second release has no press: nothing
		assert.equal(log.length, 2);
	});
});

// -- answering: a session's request on the keys ---------------------------------------------

interface AskDoc {
	id: string;
	kind?: string;
	text?: string;
	tool?: string | null;
	command?: string | null;
	choices: { id: string; label: string; kind: string }[];
	danger?: string;
	locked?: string;
	where?: string;
}

const ALLOW_DENY = [
	{ id: "allow", label: "Allow", kind: "allow" },
	{ id: "deny", label: "Deny", kind: "deny" },
];

function permission(id: string, extra: Partial<AskDoc> = {}): AskDoc {
	return { id, kind: "permission", text: "Bash wants to run", tool: "Bash", command: "npm test", choices: ALLOW_DENY, ...extra };
}

function asking(items: { key: string; state: string; ask?: AskDoc | null; stoppable?: boolean }[], answers?: Record<string, number>): ReturnType<typeof parseStatus> {
	return parseStatus(
		{
			version: 1,
			global: "waiting_for_user",
			look: { color: "#ffb000", label: "Waiting" },
			...(answers ? { answers } : {}),
			sessions: items.map((s) => ({
				source: "hooks",
				key: s.key,
				state: s.state,
				seconds: null,
				look: { color: "#ffb000", effect: "solid", period: 1, label: s.state },
				ask: s.ask ?? null,
				stoppable: s.stoppable ?? false,
			})),
			sources: [{ name: "hooks", connection: "connected", state: "active", active_sessions: items.length }],
		},
		1_000_000,
	);
}

/** What a key shows now (its image's words) and its SVG. */
function shows(sent: Map<string, string[]>, id: string): { words: string; svg: string } {
	const svg = Buffer.from((sent.get(id)?.at(-1) ?? "").split(",")[1] ?? "", "base64").toString();
	return { words: /<title>(.*?)<\/title>/.exec(svg)?.[1] ?? "", svg };
}

/** A deck of four Session keys (slots 1-4) and the given Control keys after them. */
function deck(controls: string[] = []): ReturnType<typeof setup> {
	const rig = setup();
	for (let slot = 1; slot <= 4; slot++) key(rig.board, rig.sent, `s${slot}`, "session", { slot }, slot - 1);
	controls.forEach((name, i) => key(rig.board, rig.sent, name, "control", { control: name }, 4 + i));
	return rig;
}

describe("board: answering", () => {
	it("a waiting request gets its choices on the page's empty Session keys, and a press names the request", async () => {
		const { clock, board, sent, presses } = deck();
		board.setState({ kind: "live", status: asking([{ key: "a", state: "waiting_for_user", ask: permission("r1") }]) });
		clock.advance(150);
		assert.match(shows(sent, "s1").words, /Waiting/);
		assert.match(shows(sent, "s2").words, /^BASH · Allow · hold$/);
		assert.match(shows(sent, "s3").words, /^BASH · Deny$/);
		assert.equal(shows(sent, "s4").words, "", "nothing more: Later only in the details");
		await board.press("s3");
		await board.release("s3");
		assert.deepEqual(
			presses.map((p) => [p.kind, p.name, p.session?.key, p.ask, p.pressed, p.control]),
			[
				["session", "deny", "a", "r1", true, "key:2"],
				["session", "deny", "a", "r1", false, "key:2"],
			],
		);
		// Answered (the request gone): the keys go dark again.
		board.setState({ kind: "live", status: asking([{ key: "a", state: "thinking" }]) });
		clock.advance(150);
		assert.equal(shows(sent, "s2").words, "");
	});

	it("an Allow shows its hold filling and asks for a second press after a short one", async () => {
		const { clock, board, sent, presses } = deck();
		board.setState({ kind: "live", status: asking([{ key: "a", state: "waiting_for_user", ask: permission("r1") }]) });
		clock.advance(150);
		await board.press("s2");
		clock.advance(320);
		const half = shows(sent, "s2");
		assert.match(half.words, /Allow · hold\.\.\./);
		const bar = /class="progress" x="\d+" y="\d+" width="(\d+)"/.exec(half.svg);
		assert.ok(bar && Number(bar[1]) > 40 && Number(bar[1]) < 100, `half a bar: ${bar?.[1]}`);
		await board.release("s2"); // 0.32 s: too short for a hold
		clock.advance(50);
		assert.match(shows(sent, "s2").words, /Allow · press again/);
		assert.match(shows(sent, "s2").svg, /stroke="#ffffff"/, "framed while a second press is awaited");
		clock.advance(3100); // the window closes
		assert.match(shows(sent, "s2").words, /^BASH · Allow · hold$/);
		// A full hold: the bar fills and says release.
		await board.press("s2");
		clock.advance(650);
		assert.match(shows(sent, "s2").words, /Allow · release/);
		await board.release("s2");
		assert.ok(presses.every((p) => p.name === "allow" && p.ask === "r1"));
		assert.deepEqual(presses.map((p) => p.pressed), [true, false, true, false]);
		clock.advance(50);
		assert.match(shows(sent, "s2").words, /^BASH · Allow · hold$/);
	});

	it("the hold's time is agentlight's, from the document", async () => {
		const { clock, board, sent } = deck();
		board.setState({ kind: "live", status: asking([{ key: "a", state: "waiting_for_user", ask: permission("r1") }], { hold: 2, confirm_within: 3 }) });
		await board.press("s2");
		clock.advance(1000);
		assert.match(shows(sent, "s2").words, /hold\.\.\./);
		clock.advance(1050);
		assert.match(shows(sent, "s2").words, /release/);
	});

	it("a dangerous request is in the danger colour with why; a locked one says keyboard", () => {
		const { clock, board, sent } = deck();
		board.setState({ kind: "live", status: asking([{ key: "a", state: "waiting_for_user", ask: permission("r1", { command: "rm -rf /", danger: "rm -rf" }) }]) });
		clock.advance(150);
		assert.match(shows(sent, "s2").words, /^DANGER · Allow · rm -rf · hold$/);
		assert.match(shows(sent, "s2").svg, /#ff2d00/);
		board.setState({ kind: "live", status: asking([{ key: "a", state: "waiting_for_user", ask: permission("r2", { command: "rm -rf /", danger: "rm -rf", locked: "dangerous (rm -rf)" }) }]) });
		clock.advance(150);
		assert.match(shows(sent, "s2").words, /^KEYBOARD · Allow · dangerous \(rm -rf\)$/);
		assert.match(shows(sent, "s3").words, /Deny/);
	});

	it("a key drawn for an older request names it, never the newer one", async () => {
		const { clock, board, presses } = deck();
		board.setState({ kind: "live", status: asking([{ key: "a", state: "waiting_for_user", ask: permission("r1") }]) });
		clock.advance(150);
		await board.press("s3");
		board.setState({ kind: "live", status: asking([{ key: "a", state: "waiting_for_user", ask: permission("r2") }]) });
		await board.release("s3");
		await board.press("s3");
		assert.deepEqual(presses.map((p) => p.ask), ["r1", "r1", "r2"]);
	});

	it("details hold the request, its choices, Later and Stop", async () => {
		const { clock, board, sent, presses } = deck();
		const question = { id: "q1", kind: "question", text: "Which database?", choices: [{ id: "answer:1", label: "Postgres", kind: "answer" }, { id: "answer:2", label: "SQLite", kind: "answer" }] };
		board.setState({ kind: "live", status: asking([{ key: "a", state: "waiting_for_user", ask: question, stoppable: true }, { key: "b", state: "thinking" }, { key: "c", state: "thinking" }, { key: "d", state: "thinking" }]) });
		clock.advance(150);
		assert.match(shows(sent, "s1").words, /press to answer/, "no empty key on the page for its choices");
		await board.press("s1");
		clock.advance(150);
		assert.equal(shows(sent, "s1").words, "QUESTION · Which database?");
		assert.equal(shows(sent, "s2").words, "ANSWER · Postgres");
		assert.equal(shows(sent, "s3").words, "ANSWER · SQLite");
		assert.equal(shows(sent, "s4").words, "NOT HERE · Later");
		await board.press("s3");
		await board.release("s3");
		const last = presses.at(-1);
		assert.deepEqual([last?.name, last?.ask, last?.session?.key, last?.pressed], ["answer:2", "q1", "a", false]);
		// With fewer choices the Stop key shows too.
		board.setState({ kind: "live", status: asking([{ key: "a", state: "waiting_for_user", ask: { ...question, choices: [question.choices[0]] }, stoppable: true }, { key: "b", state: "thinking" }, { key: "c", state: "thinking" }, { key: "d", state: "thinking" }]) });
		clock.advance(150);
		assert.equal(shows(sent, "s4").words, "STOP RUN · Stop · hold");
	});

	it("a request no device can answer says where, and offers no keys", async () => {
		const { clock, board, sent, presses } = deck(["allow"]);
		board.setState({ kind: "live", status: asking([{ key: "a", state: "waiting_for_user", ask: permission("r1", { where: "in Codex's terminal" }) }]) });
		clock.advance(150);
		assert.equal(shows(sent, "s2").words, "ANSWER · in Codex&#39;s terminal");
		assert.match(shows(sent, "allow").words, /nothing waiting/);
		await board.press("s2");
		await board.press("allow");
		assert.equal(presses.length, 0);
	});

	it("Control keys named after an answer draw and answer the most urgent request that takes it", async () => {
		const { clock, board, sent, presses } = deck(["allow", "deny", "stop", "answer:1"]);
		board.setState({ kind: "live", status: asking([{ key: "a", state: "thinking", stoppable: true }]) });
		clock.advance(150);
		assert.match(shows(sent, "allow").words, /^ANSWER · Allow · nothing waiting$/);
		assert.match(shows(sent, "answer:1").words, /Option 1 · nothing waiting/);
		assert.equal(shows(sent, "stop").words, "STOP RUN · Stop · hold");
		await board.press("allow");
		assert.equal(presses.length, 0, "nothing to answer: nothing sent");
		board.setState({ kind: "live", status: asking([{ key: "a", state: "thinking", stoppable: true }, { key: "b", state: "waiting_for_user", ask: permission("r9") }]) });
		clock.advance(150);
		assert.equal(shows(sent, "deny").words, "BASH · Deny");
		await board.press("deny");
		await board.release("deny");
		assert.deepEqual(presses.map((p) => [p.kind, p.name, p.session?.key, p.ask, p.pressed]), [
			["session", "deny", "b", "r9", true],
			["session", "deny", "b", "r9", false],
		]);
		await board.press("stop");
		clock.advance(200);
		assert.match(shows(sent, "stop").words, /hold\.\.\./);
		await board.release("stop");
		assert.deepEqual([presses.at(-1)?.name, presses.at(-1)?.session?.key, presses.at(-1)?.ask], ["stop", "a", undefined]);
	});
});
