/** Text fitting and key drawing: the rules of devices/streamdeck/render.py and layout.py. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { count, duration, globalFace, sessionFace, stateWord, SlotMap } from "../src/layout.js";
import { parseStatus, type Session } from "../src/model.js";
import { face, inkOn, renderKey, renderStrip } from "../src/render/svg.js";
import { ellipsize, fit, safe, textWidth, wrap } from "../src/render/text.js";

describe("text", () => {
	it("measures with the driver's font: within 4% of Pillow's widths", () => {
		// ImageFont.load_default(size).getlength(text), Pillow 13 (hinted, so whole pixels).
		const pillow: [number, string, number][] = [
			[10, "Refactor the parser", 86],
			[20, "Refactor the parser", 169],
			[30, "Waiting for you", 206],
			[20, "12s · 15.5k tok", 129],
			[30, "TELEGRAM", 157],
		];
		for (const [size, text, width] of pillow) {
			const ours = textWidth(text, size);
			assert.ok(Math.abs(ours - width) / width < 0.04, `${text}@${size}: ${ours} vs ${width}`);
		}
	});

	it("wraps on words, breaks a word too long for a line, and ends cut text with …", () => {
		assert.deepEqual(wrap("Refactor the parser", 20, 110, 3), [["Refactor the", "parser"], false]);
		const [lines, cut] = wrap("Supercalifragilisticexpialidocious", 20, 100, 2);
		assert.equal(lines.length, 2);
		assert.ok(cut && lines[1].endsWith("…"));
		assert.ok(lines.every((l) => textWidth(l, 20) <= 100));
		assert.equal(ellipsize("a rather long line of text", 20, 80).slice(-1), "…");
		assert.equal(ellipsize("short", 20, 80), "short");
	});

	it("shrinks before it cuts", () => {
		assert.deepEqual(fit("Thinking", [30, 26, 23], 124, 1), [30, ["Thinking"]]);
		const [size, lines] = fit("Interrupted!", [30, 26, 23], 124, 1);
		assert.ok(size < 30 && !lines[0].endsWith("…"), `${size} ${lines[0]}`);
		assert.ok(fit("A title much too long for one key line", [30, 26, 23], 124, 1)[1][0].endsWith("…"));
	});

	it("makes server text safe: controls shown escaped, one line", () => {
		assert.equal(safe("evil\u001b[2Jtitle"), "evil\\\\x1b[2Jtitle".replace("\\\\", "\\"));
		assert.equal(safe("two\nlines\u202e"), "two\\nlines\\u202e");
		assert.equal(safe("  spaced   out  "), "spaced out");
		assert.equal(Array.from(safe("x".repeat(600))).length, 500);
	});
});

const look = { color: [0, 112, 255] as const, effect: "solid", period: 1, brightness: 0.7, label: "Thinking" };

function session(fields: Partial<Session> = {}): Session {
	return {
		ref: "pp\u0000a",
		source: "pp",
		key: "a",
		id: "a",
		channel: "websocket",
		state: "thinking",
		rawState: "thinking",
		title: "Refactor the parser",
		tool: null,
		error: null,
		tokens: { input: 15000, output: 500, reasoning: 0 },
		sinceMs: 0,
		look,
		slot: null,
		ask: null,
		stoppable: false,
		...fields,
	};
}

describe("layout", () => {
	it("formats time and tokens like the driver", () => {
		assert.deepEqual([duration(12.9), duration(75), duration(605), duration(3900)], ["12s", "1m15s", "10m", "1h05m"]);
		assert.deepEqual([count(950), count(15500), count(57000), count(123456), count(4_100_000)], ["950", "15.5k", "57k", "123k", "4.1M"]);
	});

	it("a session key: channel band, the theme's short label, title, time and tokens", () => {
		const f = sessionFace(session(), 12_000, true);
		assert.equal(f.header, "WEB");
		assert.equal(f.title, "Thinking");
		assert.deepEqual(f.lines, ["Refactor the parser"]);
		assert.equal(f.footer, "12s · 15.5k tok | 12s · 15.5k | 12s");
		assert.deepEqual(f.bg, [0, 43, 97]);
		// A long label gives way to the tool's name.
		assert.equal(stateWord(session({ state: "tool_running", tool: "bash", look: { ...look, label: "Running a tool for you" } })), "bash");
	});

	it("a session that needs you alternates full colour and a framed dark key", () => {
		const amber = { ...look, color: [255, 176, 0] as const, label: "Waiting" };
		const on = sessionFace(session({ state: "waiting_for_user", look: amber }), 0, true);
		const off = sessionFace(session({ state: "waiting_for_user", look: amber }), 0, false);
		assert.deepEqual(on.bg, [255, 176, 0]);
		assert.deepEqual(on.fg, inkOn([255, 176, 0]));
		assert.deepEqual(off.frame, [255, 176, 0]);
		assert.notEqual(renderKey(on), renderKey(off));
	});

	it("the global key says why the agent cannot be seen", () => {
		const status = parseStatus(
			{
				version: 1,
				global: "disconnected",
				look: { color: "#ffffff", effect: "blink", period: 3, brightness: 0.25, label: "No agent" },
				sessions: [],
				sources: [{ name: "pp", connection: "disconnected", state: "disconnected", detail: "connection refused" }],
			},
			0,
		);
		const f = globalFace(status);
		assert.equal(f.title, "No agent");
		assert.deepEqual(f.lines, ["cannot see the agent (connection refused)"]);
		assert.equal(f.marker, "ring");
	});

	it("reads looks wherever the document puts them, and refuses a newer version", () => {
		const doc = { version: 1, global: "active", sessions: [{ source: "pp", key: "a", state: "thinking", seconds: 2, look: { color: "#102030", label: "Hm" } }], sources: [] };
		const s = parseStatus(doc, 10_000).sessions[0];
		assert.deepEqual(s.look.color, [16, 32, 48]);
		assert.equal(s.sinceMs, 8000);
		assert.throws(() => parseStatus({ ...doc, version: 2 }, 0), /newer/);
	});

	it("slots are stable: a session keeps its slot, a new one takes the lowest free", () => {
		const slots = new SlotMap();
		assert.deepEqual([...slots.assign(["a", "b", "c"])], [["a", 0], ["b", 1], ["c", 2]]);
		assert.deepEqual([...slots.assign(["c", "d"])], [["c", 2], ["d", 0]]);
	});
});

describe("svg", () => {
	it("draws text as paths, with its words in the title", () => {
		const svg = renderKey(face("session", { bar: [0, 112, 255], header: "WEB", title: "Thinking", lines: ["a <b> & c"] }));
		assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="144" height="144"/);
		assert.match(svg, /<title>WEB · Thinking · a &#60;b&#62; &#38; c<\/title>/);
		assert.ok(!/<text/.test(svg), "every character of this text is in the bundled font");
		assert.match(renderKey(face("session", { title: "日本" })), /<text [^>]*font-family="sans-serif"/);
	});

	it("draws the touch strip's summary", () => {
		const svg = renderStrip({ color: [0, 112, 255], line: "Working · 3 sessions", detail: "WEB Fix Thinking 3s", dots: [[1, 2, 3]] });
		assert.match(svg, /width="200" height="100"/);
		assert.match(svg, /<circle [^>]*fill="#010203"/);
	});
});
