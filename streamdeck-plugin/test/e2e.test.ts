/**
 * End to end: the built plugin in the fake Stream Deck app, a real agentlight (simulate +
 * run with the API on 127.0.0.1). Every state the simulated agent walks through reaches a
 * key in the look agentlight's theme gives it; a press reaches the engine; agentlight
 * stopped → offline keys within 2 s; started again → live, the plugin never restarted.
 *
 * Needs agentlight: $AGENTLIGHT_BIN, else `agentlight` on PATH. Without it the test is
 * skipped, except in CI (CI=true), where it fails: CI installs agentlight first.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { stateWord } from "../src/layout.js";
import { parseStatus, type Status } from "../src/model.js";
import { Agentlight, agentlightBin } from "./agentlight.js";
import { ACTIONS, FakeApp, type Sent, words } from "./fake-app.js";

const bin = agentlightBin();
if (bin === null && process.env.CI === "true") throw new Error("CI: agentlight is not installed (set AGENTLIGHT_BIN or put it on PATH)");

/** Follows the API's event stream as a second client: the statuses agentlight served. */
function follow(url: string, token: string | null, onStatus: (s: Status, at: number) => void): () => void {
	const headers: Record<string, string> = { Accept: "text/event-stream" };
	if (token) headers.Authorization = `Bearer ${token}`;
	const req = http.get(`${url}/v1/status/stream`, { headers, agent: false }, (res) => {
		res.setEncoding("utf8");
		let buffer = "";
		res.on("data", (chunk: string) => {
			buffer += chunk;
			let end: number;
			while ((end = buffer.indexOf("\n\n")) >= 0) {
				const event = buffer.slice(0, end);
				buffer = buffer.slice(end + 2);
				const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
				if (data) onStatus(parseStatus(JSON.parse(data), performance.now()), performance.now());
			}
		});
		res.on("error", () => undefined);
	});
	req.on("error", () => undefined);
	return () => req.destroy();
}

const SESSION_STATES = ["thinking", "tool_running", "streaming", "waiting_for_user", "error"];

describe("end to end with a real agentlight", { skip: bin === null ? "agentlight not found (AGENTLIGHT_BIN or PATH)" : false }, () => {
	let al: Agentlight;
	let app: FakeApp;

	before(async () => {
		al = new Agentlight(bin as string);
		await al.startSimulator();
		await al.startBridge();
		app = await FakeApp.launch(al.env);
		app.willAppear(ACTIONS.agent, "agent");
		app.willAppear(ACTIONS.session, "urgent", { column: 1, settings: { slot: "urgent" } });
		for (let slot = 1; slot <= 3; slot++) app.willAppear(ACTIONS.session, `slot${slot}`, { column: 1 + slot, settings: { slot } });
		app.willAppear(ACTIONS.agent, "dial", { device: "PLUS", controller: "Encoder" });
		app.willAppear(ACTIONS.control, "option1", { column: 5, settings: { control: "answer:1" } });
	});

	after(async () => {
		await app?.close();
		await al?.close();
	});

	it("every state the agent goes through reaches a key, in agentlight's look for it", async () => {
		// What agentlight served, from its own stream: each session state with the word and
		// colour its theme gives it, and each global state with its label.
		const expected = new Map<string, { word: string; color: string }>();
		const globals = new Map<string, string>();
		const hex = (c: readonly number[]): string => `#${c.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
		const stop = follow(al.apiUrl, null, (status) => {
			globals.set(status.global, status.look.label);
			for (const s of status.sessions) expected.set(s.state, { word: stateWord(s), color: hex(s.look.color) });
		});
		try {
			const seen = (state: string): boolean => {
				const want = expected.get(state);
				if (!want) return false;
				return app.images().some((m: Sent) => m.context !== "agent" && m.context !== "dial" && words(m).includes(` · ${want.word}`) && (m.payload?.image as string | undefined) !== undefined && Buffer.from(String(m.payload?.image).split(",")[1], "base64").toString().includes(want.color));
			};
			const deadline = performance.now() + 45_000;
			while (performance.now() < deadline && !SESSION_STATES.every(seen)) await new Promise((r) => setTimeout(r, 100));
			for (const state of SESSION_STATES) assert.ok(seen(state), `${state} (${JSON.stringify(expected.get(state))}) never reached a key`);
			for (const [state, label] of globals) {
				if (state === "connecting") continue; // only before the first status, if at all
				assert.ok(app.images("agent").some((m) => words(m).includes(`AGENT · ${label}`)), `global ${state} (${label})`);
			}
			assert.ok(globals.has("active") && globals.has("degraded"), [...globals.keys()].join(","));
			assert.ok(app.images("dial").some((m) => m.event === "setFeedback" && / sessions?/.test(words(m))), "the dial's summary line");
		} finally {
			stop();
		}
	});

	it("a press on a session key reaches the engine", async () => {
		// Press while a session shows (the urgent key is black when there is none).
		const deadline = performance.now() + 30_000;
		while (performance.now() < deadline) {
			if (/ · /.test(app.shows("urgent"))) {
				app.press("urgent");
				await new Promise((r) => setTimeout(r, 400));
				if (/api: press session/.test(al.log)) break;
			}
			await new Promise((r) => setTimeout(r, 100));
		}
		assert.match(al.log, /api: press session pocketpaw\/\S+ \(details\) from 127\.0\.0\.1/);
	});

	it("a Control key shows the simulated agent's question and answers it", async () => {
		// The simulator asks "Deploy the fixed script now?" (Yes, deploy / Not yet) once a cycle.
		const deadline = performance.now() + 40_000;
		let pressed = false;
		while (performance.now() < deadline && !/answer: pocketpaw\/\S+ question/.test(al.log)) {
			if (/^ANSWER · Yes, deploy$/.test(app.shows("option1"))) {
				app.press("option1");
				pressed = true;
				await new Promise((r) => setTimeout(r, 400));
			}
			await new Promise((r) => setTimeout(r, 50));
		}
		assert.ok(pressed, "the question never showed on the key");
		const line = /answer: pocketpaw\/\S+ question Deploy the fixed script now\? -> Yes, deploy \(press on api key:5\)(.*)/.exec(al.log);
		assert.ok(line, al.log.slice(-2000));
		assert.equal(line[1].trim(), "", "sent to the simulator's chat");
	});

	it("says why when agentlight cannot see the agent", async () => {
		const from = app.sent.length;
		await al.stopSimulator();
		await app.waitForKey("agent", /AGENT · .* · cannot see the agent \(/, 15_000, from);
		await al.startSimulator(Number(new URL(al.simUrl).port));
		await app.waitForKey("agent", /AGENT · (Idle|Working)/, 15_000, app.sent.length);
	});

	it("agentlight stopped: offline within 2 s; started again: live, without restarting the plugin", async () => {
		await app.waitForKey("agent", /AGENT · (?!Offline)/, 10_000);
		const pid = app.child.pid;
		let from = app.sent.length;
		const stopped = performance.now();
		await al.stopBridge();
		const offline = await app.waitForKey("agent", /Offline · agentlight not running/, 2000, from);
		assert.ok(offline.at - stopped <= 2000, `${offline.at - stopped} ms`);
		await app.waitForKey("slot1", /Offline/, 2000, from);
		from = app.sent.length;
		await al.startBridge();
		await app.waitForKey("agent", /AGENT · (?!Offline)/, 10_000, from);
		assert.equal(app.child.pid, pid);
		assert.equal(app.child.exitCode, null);
	});

	it("killed (its discovery file left behind): offline within 2 s too", async () => {
		const from = app.sent.length;
		const stopped = performance.now();
		await al.stopBridge("SIGKILL");
		const offline = await app.waitForKey("agent", /Offline · agentlight not running/, 2000, from);
		assert.ok(offline.at - stopped <= 2000);
		await al.startBridge();
		await app.waitForKey("agent", /AGENT · (?!Offline)/, 10_000, app.sent.length);
	});
});
