/**
 * The built plugin, launched by a fake Stream Deck app, fed by a stand-in API: what its
 * keys show, what a press sends, how it loses and finds agentlight again.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { ACTIONS, FakeApp, svgOf } from "./fake-app.js";
import { type LookDoc, type SessionDoc, StandIn, statusDoc } from "./standin.js";

// A theme only this test knows: the plugin must draw what the API says, not a theme of its own.
const LOOKS: Record<string, LookDoc> = {
	active: { color: "#1234ee", effect: "solid", period: 1, brightness: 0.7, label: "Busy" },
	idle: { color: "#22aa33", effect: "solid", period: 1, brightness: 0.2, label: "Resting" },
	disconnected: { color: "#cccccc", effect: "blink", period: 3, brightness: 0.25, label: "No agent" },
	thinking: { color: "#3355ff", effect: "pulse", period: 2, brightness: 0.8, label: "Pondering" },
	tool_running: { color: "#00c8ff", effect: "solid", period: 1, brightness: 0.9, label: "bash" },
	streaming: { color: "#00ffa0", effect: "solid", period: 1, brightness: 0.7, label: "Answering" },
	waiting_for_user: { color: "#ffb000", effect: "blink", period: 0.4, brightness: 1, label: "Your turn" },
	error: { color: "#ee0011", effect: "blink", period: 0.6, brightness: 1, label: "Broken" },
	pending: { color: "#0070ff", effect: "solid", period: 1, brightness: 0.3, label: "Queued" },
	done: { color: "#00ff40", effect: "solid", period: 1, brightness: 0.8, label: "Done" },
	interrupted: { color: "#ff8000", effect: "solid", period: 1, brightness: 0.5, label: "Stopped" },
};

function session(key: string, state: string, extra: Partial<SessionDoc> = {}): SessionDoc {
	return { key, state, title: `Title of ${key}`, look: LOOKS[state], ...extra };
}

interface World {
	dir: string;
	file: string;
	api: StandIn;
	app: FakeApp;
}

async function world(doc = statusDoc("active", LOOKS.active, [session("a", "thinking")]), globalSettings: Record<string, unknown> = {}): Promise<World> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "agentlight-plugin-"));
	const file = path.join(dir, "agentlight", "api.json");
	const api = new StandIn(doc, file);
	await api.start();
	const app = await FakeApp.launch({ ...process.env, XDG_RUNTIME_DIR: dir, AGENTLIGHT_API_FILE: "" }, globalSettings);
	return { dir, file, api, app };
}

async function done(w: World): Promise<void> {
	await w.app.close();
	await w.api.stop();
	rmSync(w.dir, { recursive: true, force: true });
}

describe("plugin in a fake Stream Deck app", () => {
	let w: World;
	beforeEach(async () => {
		w = await world();
	});
	afterEach(async () => {
		await done(w);
	});

	it("registers, asks for its global settings and draws the Agent key in the API's colours", async () => {
		await w.app.waitFor((m) => m.event === "getGlobalSettings");
		w.app.willAppear(ACTIONS.agent, "agent");
		const img = await w.app.waitForKey("agent", /AGENT · Busy · 1\/4 active/);
		// The background is the look's colour at 0.3 + 0.3 × brightness, as the driver draws it.
		const svg = svgOf(img);
		assert.match(svg, /fill="#1234ee"/);
		assert.match(svg, /<rect width="144" height="144" fill="#091b79"\/>/);
	});

	it("every session state reaches its key, with the API's label and colour", async () => {
		w.app.willAppear(ACTIONS.session, "s1", { settings: { slot: 1 }, column: 1 });
		await w.app.waitForKey("s1", /Pondering/);
		for (const state of Object.keys(LOOKS).filter((s) => !["active", "idle", "disconnected"].includes(s))) {
			const from = w.app.sent.length;
			w.api.set(statusDoc("active", LOOKS.active, [session("a", state, { tool: state === "tool_running" ? "bash" : null })]));
			const img = await w.app.waitForKey("s1", new RegExp(`WEB · ${LOOKS[state].label} `), 3000, from);
			assert.match(svgOf(img), new RegExp(`fill="${LOOKS[state].color}"`), state);
		}
	});

	it("blinks a waiting session between two images at its effect's period", async () => {
		w.app.willAppear(ACTIONS.session, "s1", { settings: { slot: 1 } });
		await w.app.waitForKey("s1", /Pondering/);
		const from = w.app.sent.length;
		w.api.set(statusDoc("active", LOOKS.active, [session("a", "waiting_for_user", { seconds: null })]));
		await w.app.waitForKey("s1", /Your turn/, 3000, from);
		await new Promise((r) => setTimeout(r, 1300));
		const images = w.app.images("s1").slice(from);
		const distinct = new Set(images.map((m) => m.payload?.image));
		assert.equal(distinct.size, 2, "two cached images");
		// Period 0.4 s: a flip every 0.2 s, so about 6 in 1.3 s; never faster than 10 a second.
		assert.ok(images.length >= 4 && images.length <= 9, `${images.length} images`);
		for (const img of images) assert.ok(images.filter((m) => m.at > img.at - 1000 && m.at <= img.at).length <= 10, "≤ 10 images/s");
	});

	it("a press on a session key reaches the API as a press on that session", async () => {
		w.app.willAppear(ACTIONS.session, "s1", { settings: { slot: 1 } });
		await w.app.waitForKey("s1", /Pondering/);
		w.app.press("s1");
		await w.app.waitForKey("s1", /WEB · Pondering · DETAILS/);
		for (let i = 0; i < 50 && w.api.inputs.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
		// The press, then its release (a hold is measured between them), as from agentlight's own deck.
		const press = { target: "session", source: "pocketpaw", key: "a", action: "details", control: "key:0" };
		assert.deepEqual(w.api.inputs, [press, { ...press, pressed: false }]);
	});

	it("a named control goes to the API; page keys page the session keys", async () => {
		w.api.set(statusDoc("active", LOOKS.active, [session("a", "thinking"), session("b", "error", { error: "disk full" }), session("c", "done")]));
		w.app.willAppear(ACTIONS.session, "s1", { settings: { slot: 1 } });
		w.app.willAppear(ACTIONS.session, "s2", { settings: { slot: 2 }, column: 1 });
		w.app.willAppear(ACTIONS.control, "next", { settings: { control: "page_next" }, column: 2 });
		w.app.willAppear(ACTIONS.control, "yes", { settings: { control: "answer_yes" }, column: 3 });
		await w.app.waitForKey("s1", /Pondering/);
		await w.app.waitForKey("s2", /Broken · disk full/);
		await w.app.waitForKey("next", /MORE · 1\/2 · \+1 more/);
		let from = w.app.sent.length;
		w.app.press("next");
		await w.app.waitForKey("s1", /Title of c/, 3000, from);
		await w.app.waitFor((m) => m.context === "s2" && m.event === "setImage" && svgOf(m).length < 300, 3000, from, "s2 black");
		// Page 2 hides the error: the page key lights up for it.
		await w.app.waitForKey("next", /MORE · 2\/2 · 1 need you/, 3000, from);
		from = w.app.sent.length;
		w.app.dialRotate("s1", 1); // not a dial: ignored by the SDK or the board
		w.app.press("yes");
		for (let i = 0; i < 50 && w.api.inputs.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
		const yes = { target: "control", source: "pocketpaw", key: "b", action: "answer_yes", control: "key:3" };
		assert.deepEqual(w.api.inputs, [yes, { ...yes, pressed: false }]);
	});

	it("a waiting request's choices show on empty keys; a press answers that request, by its id", async () => {
		const ask = {
			id: "perm-7",
			kind: "permission",
			text: "Bash wants to run",
			tool: "Bash",
			command: "git push --force",
			choices: [
				{ id: "allow", label: "Allow", kind: "allow" },
				{ id: "deny", label: "Deny", kind: "deny" },
			],
			danger: "git push --force",
			locked: "",
			where: "",
		};
		w.api.set(statusDoc("active", LOOKS.active, [session("a", "waiting_for_user", { ask })]));
		w.app.willAppear(ACTIONS.session, "s1", { settings: { slot: 1 } });
		w.app.willAppear(ACTIONS.session, "s2", { settings: { slot: 2 }, column: 1 });
		w.app.willAppear(ACTIONS.session, "s3", { settings: { slot: 3 }, column: 2 });
		w.app.willAppear(ACTIONS.control, "deny", { settings: { control: "deny" }, column: 3 });
		await w.app.waitForKey("s2", /^DANGER · Allow · git push --force · hold$/);
		await w.app.waitForKey("s3", /^BASH · Deny$/);
		await w.app.waitForKey("deny", /^BASH · Deny$/);
		w.app.press("s3");
		for (let i = 0; i < 50 && w.api.inputs.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
		const deny = { target: "session", source: "pocketpaw", key: "a", action: "deny", control: "key:2", ask: "perm-7" };
		assert.deepEqual(w.api.inputs, [deny, { ...deny, pressed: false }]);
	});

	it("a key follows its settings: another slot, then the most urgent session", async () => {
		w.api.set(statusDoc("active", LOOKS.active, [session("a", "thinking"), session("b", "streaming"), session("c", "waiting_for_user")]));
		w.app.willAppear(ACTIONS.session, "s", { settings: { slot: 1 } });
		await w.app.waitForKey("s", /Title of a/);
		let from = w.app.sent.length;
		w.app.didReceiveSettings("s", { slot: 2 });
		await w.app.waitForKey("s", /Answering · Title of b/, 3000, from);
		from = w.app.sent.length;
		w.app.didReceiveSettings("s", { slot: "urgent" });
		await w.app.waitForKey("s", /Your turn · Title of c/, 3000, from);
		w.app.willDisappear("s");
		await new Promise((r) => setTimeout(r, 600));
		from = w.app.sent.length;
		await new Promise((r) => setTimeout(r, 600));
		assert.equal(w.app.images("s").filter((m) => w.app.sent.indexOf(m) >= from).length, 0, "a key that went away is not drawn");
	});

	it("the Stream Deck + dial shows the summary line and pages with a turn", async () => {
		w.api.set(statusDoc("active", LOOKS.active, [session("a", "thinking"), session("b", "waiting_for_user")]));
		w.app.willAppear(ACTIONS.agent, "dial", { device: "PLUS", controller: "Encoder" });
		const fb = await w.app.waitForKey("dial", /Busy · 2 sessions · 1 waiting · WEB Title of b Your turn/);
		assert.equal(fb.event, "setFeedback");
		w.app.willAppear(ACTIONS.session, "p1", { device: "PLUS", settings: { slot: 1 } });
		await w.app.waitForKey("p1", /Title of a/);
		const from = w.app.sent.length;
		w.app.dialRotate("dial", 1);
		await w.app.waitForKey("p1", /Title of b/, 3000, from);
		w.app.dialDown("dial");
		w.app.dialUp("dial");
		await w.app.waitForKey("p1", /DETAILS/, 3000, from);
	});

	it("says the agent cannot be seen, and why", async () => {
		w.app.willAppear(ACTIONS.agent, "agent");
		await w.app.waitForKey("agent", /Busy/);
		w.api.set(statusDoc("disconnected", LOOKS.disconnected, [], false, "connection refused"));
		await w.app.waitForKey("agent", /No agent · cannot see the agent \(connection refused\)/);
	});

	it("goes offline within 2 s of agentlight stopping, and live again when it is back", async () => {
		w.app.willAppear(ACTIONS.agent, "agent");
		w.app.willAppear(ACTIONS.session, "s1", { settings: { slot: 1 }, column: 1 });
		await w.app.waitForKey("s1", /Pondering/);
		const stopped = performance.now();
		let from = w.app.sent.length;
		await w.api.stop();
		const agent = await w.app.waitForKey("agent", /Offline · agentlight not running/, 2000, from);
		await w.app.waitForKey("s1", /Offline/, 2000, from);
		assert.ok(agent.at - stopped < 2000);
		from = w.app.sent.length;
		await w.api.start();
		await w.app.waitForKey("s1", /Pondering/, 5000, from);
		await w.app.waitForKey("agent", /Busy/, 5000, from);
	});

	it("sends nothing while nothing changes", async () => {
		w.api.set(statusDoc("idle", LOOKS.idle, []));
		w.app.willAppear(ACTIONS.agent, "agent");
		w.app.willAppear(ACTIONS.session, "s1", { settings: { slot: 1 }, column: 1 });
		w.app.willAppear(ACTIONS.control, "next", { settings: { control: "page_next" }, column: 2 });
		await w.app.waitForKey("agent", /Resting/);
		await w.app.waitFor((m) => m.context === "s1" && m.event === "setImage" && svgOf(m).length < 300);
		await new Promise((r) => setTimeout(r, 300));
		const count = w.app.sent.length;
		w.api.set(statusDoc("idle", LOOKS.idle, [])); // the same status again
		await new Promise((r) => setTimeout(r, 1500));
		assert.deepEqual(w.app.sent.slice(count).map((m) => m.event), []);
	});
});

describe("finding agentlight", () => {
	let dir: string;
	let app: FakeApp | null = null;
	let api: StandIn | null = null;
	before(() => {
		dir = mkdtempSync(path.join(os.tmpdir(), "agentlight-plugin-"));
	});
	after(() => rmSync(dir, { recursive: true, force: true }));
	afterEach(async () => {
		await app?.close();
		await api?.stop();
		app = null;
		api = null;
	});

	it("says agentlight is not running when there is no discovery file, or a stale one", async () => {
		const file = path.join(dir, "agentlight", "api.json");
		app = await FakeApp.launch({ ...process.env, XDG_RUNTIME_DIR: dir, AGENTLIGHT_API_FILE: "" });
		app.willAppear(ACTIONS.agent, "agent");
		await app.waitForKey("agent", /Offline · agentlight not running/);
		// A press while offline: the key says it could not (the app's alert), and retries at once.
		app.press("agent");
		await app.waitFor((m) => m.event === "showAlert" && m.context === "agent", 2000);
		// A file left behind by a process that died (pid 2^22 + 1 is past Linux's pid_max).
		mkdirSync(path.dirname(file), { recursive: true });
		writeFileSync(file, JSON.stringify({ url: "http://127.0.0.1:9", pid: 4194305 }));
		await new Promise((r) => setTimeout(r, 800));
		assert.match(app.shows("agent"), /agentlight not running/);
	});

	it("takes a URL and token from the property inspector, keeps the token and never sends it back", async () => {
		api = new StandIn(statusDoc("active", LOOKS.active, []), null);
		api.token = "a-long-enough-secret-token";
		await api.start();
		app = await FakeApp.launch({ ...process.env, XDG_RUNTIME_DIR: dir, AGENTLIGHT_API_FILE: "" }, { url: api.url, token: "wrong-token-wrong-token" });
		app.willAppear(ACTIONS.agent, "agent");
		await app.waitForKey("agent", /token refused/);
		const from = app.sent.length;
		app.propertyInspectorDidAppear("agent");
		app.sendToPlugin("agent", { event: "setConnection", url: api.url, token: "a-long-enough-secret-token" });
		await app.waitForKey("agent", /Busy/, 5000, from);
		assert.equal(app.globalSettings.token, "a-long-enough-secret-token");
		const reply = await app.waitFor((m) => m.event === "sendToPropertyInspector", 2000, from);
		assert.deepEqual(reply.payload, { event: "connection", url: api.url, tokenSet: true });
		for (const m of app.sent) assert.ok(!JSON.stringify(m).includes("a-long-enough-secret-token") || m.event === "setGlobalSettings", m.event);
	});
});
