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
