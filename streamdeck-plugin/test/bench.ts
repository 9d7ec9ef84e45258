/**
 * `npm run bench`: the plugin's figures (not a test; nothing here fails on a number).
 *
 * - state change → setImage, p50/p99/max: the built plugin in the fake Stream Deck app,
 *   (a) fed by the stand-in API, 400 changes round-robin over 5 Session keys 40 ms apart
 *   (each key changes every 200 ms, inside its 10 images/s), timed from the stand-in's
 *   write to the app's receipt of the image that shows it; (b) fed by a real agentlight
 *   (simulate at 8× + run with the API), timed from the moment a second client of the
 *   API's event stream has the change to the image that shows it. Budget: p99 ≤ 50 ms.
 * - the plugin's RSS, sampled through each run. Budget: ≤ 80 MB.
 * - idle: messages the plugin sends in 5 s while nothing changes. Budget: 0.
 */
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { channelLabel, stateWord } from "../src/layout.js";
import { parseStatus } from "../src/model.js";
import { safe } from "../src/render/text.js";
import { Agentlight, agentlightBin } from "./agentlight.js";
import { ACTIONS, FakeApp, words } from "./fake-app.js";
import { type LookDoc, StandIn, statusDoc } from "./standin.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pct(values: number[], p: number): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function summary(values: number[]): string {
	return `${pct(values, 50).toFixed(1)} / ${pct(values, 99).toFixed(1)} / ${Math.max(...values).toFixed(1)} ms (n=${values.length})`;
}

const LOOK: LookDoc = { color: "#0070ff", effect: "solid", period: 1, brightness: 0.8, label: "Thinking" };

async function standIn(rss: number[]): Promise<{ latencies: number[]; idleSent: number }> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "agentlight-bench-"));
	const keys = ["a", "b", "c", "d", "e"];
	const titles = new Map(keys.map((k) => [k, `${k} step 0`]));
	const doc = (): Record<string, unknown> =>
		statusDoc("active", { ...LOOK, label: "Working" }, keys.map((k) => ({ key: k, state: "thinking", title: titles.get(k), seconds: null, look: LOOK })));
	const api = new StandIn(doc(), path.join(dir, "agentlight", "api.json"));
	await api.start();
	const app = await FakeApp.launch({ ...process.env, XDG_RUNTIME_DIR: dir, AGENTLIGHT_API_FILE: "" });
	try {
		app.willAppear(ACTIONS.agent, "agent");
		keys.forEach((_, i) => app.willAppear(ACTIONS.session, `s${i + 1}`, { column: i + 1, settings: { slot: i + 1 } }));
		await app.waitForKey("s5", /e step 0/, 10_000);
		await sleep(300);
		const latencies: number[] = [];
		for (let step = 1; step <= 400; step++) {
			const i = (step - 1) % keys.length;
			const title = `${keys[i]} step ${step}`;
			titles.set(keys[i], title);
			const from = app.sent.length;
			const t0 = performance.now();
			api.set(doc());
			const img = await app.waitForKey(`s${i + 1}`, new RegExp(`· ${title}$`), 2000, from);
			latencies.push(img.at - t0);
			if (step % 50 === 0) rss.push(app.rss());
			await sleep(Math.max(0, 40 - (performance.now() - t0)));
		}
		// Idle: the same status again, then nothing: nothing may reach the app.
		api.set(doc());
		await sleep(300);
		const before = app.sent.length;
		await sleep(5000);
		rss.push(app.rss());
		return { latencies, idleSent: app.sent.length - before };
	} finally {
		await app.close();
		await api.stop();
		rmSync(dir, { recursive: true, force: true });
	}
}

async function real(bin: string, rss: number[]): Promise<number[]> {
	const al = new Agentlight(bin, 8);
	await al.startSimulator();
	await al.startBridge();
	const app = await FakeApp.launch(al.env);
	const latencies: number[] = [];
	const pending: { t0: number; want: string; from: number }[] = [];
	let last = new Map<string, string>();
	// A second client of the same stream: when agentlight showed each change.
	const req = http.get(`${al.apiUrl}/v1/status/stream`, { agent: false, headers: { Accept: "text/event-stream" } }, (res) => {
		res.setEncoding("utf8");
		let buffer = "";
		res.on("data", (chunk: string) => {
			const t0 = performance.now();
			buffer += chunk;
			let end: number;
			while ((end = buffer.indexOf("\n\n")) >= 0) {
				const data = buffer.slice(0, end).split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
				buffer = buffer.slice(end + 2);
				if (!data) continue;
				const status = parseStatus(JSON.parse(data), t0);
				const now = new Map<string, string>();
				for (const s of status.sessions) {
					// What the session's key says up to its title: the change a key must show.
					const head = [channelLabel(s.channel), stateWord(s), ...(s.state === "error" && s.error ? [safe(s.error)] : s.title ? [safe(s.title)] : [])].join(" · ");
					now.set(s.ref, head);
					if (last.get(s.ref) !== head) pending.push({ t0, want: head, from: app.sent.length });
				}
				last = now;
			}
		});
		res.on("error", () => undefined);
	});
	req.on("error", () => undefined);
	try {
		for (let slot = 1; slot <= 4; slot++) app.willAppear(ACTIONS.session, `s${slot}`, { column: slot, settings: { slot } });
		const end = performance.now() + 20_000;
		while (performance.now() < end) {
			await sleep(200);
			for (const p of pending.splice(0)) {
				// The plugin's own stream may deliver the change before ours does: look a little
				// before, and count an image that beat our client as 0 ms.
				const img = app.sent.slice(Math.max(0, p.from - 20)).find((m) => (m.event === "setImage" || m.event === "setFeedback") && m.at >= p.t0 - 100 && words(m).startsWith(p.want));
				if (img) latencies.push(Math.max(0, img.at - p.t0));
				else if (performance.now() - p.t0 < 2000) pending.push(p); // not yet: look again
			}
			rss.push(app.rss());
		}
		return latencies;
	} finally {
		req.destroy();
		await app.close();
		await al.close();
	}
}

const mib = (values: number[]): string => `${(Math.max(...values) / 2 ** 20).toFixed(1)} MiB (${values.length} samples)`;
const rss: number[] = [];
const local = await standIn(rss);
console.log(`plugin RSS, most seen: during the stand-in's burst of 25 changes/s ${mib(rss)}   (budget ≤ 80 MB)`);
console.log(`stand-in API: state change → setImage p50 / p99 / max: ${summary(local.latencies)}   (budget p99 ≤ 50 ms)`);
console.log(`idle 5 s: ${local.idleSent} messages sent   (budget 0)`);
const bin = agentlightBin();
if (bin !== null) {
	const realRss: number[] = [];
	const latencies = await real(bin, realRss);
	console.log(`plugin RSS, most seen: with the real agentlight ${mib(realRss)}   (budget ≤ 80 MB)`);
	console.log(`real agentlight: change on its event stream → setImage p50 / p99 / max: ${summary(latencies)}   (budget p99 ≤ 50 ms)`);
	console.log(`  slowest: ${[...latencies].sort((a, b) => b - a).slice(0, 5).map((l) => l.toFixed(1)).join(", ")} ms`);
} else {
	console.log("real agentlight: skipped (set AGENTLIGHT_BIN or put agentlight on PATH)");
}
