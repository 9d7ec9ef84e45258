/**
 * `npm run pictures`: the README's pictures of the plugin's keys. For each state the
 * driver's pictures show (docs/streamdeck/mk2-*.png, from `agentlight preview`), the built
 * plugin runs in the fake Stream Deck app, fed the same status with agentlight's own looks
 * (scripts/scenarios.py), on a Stream Deck MK.2 laid out as the driver lays it out; what
 * the fake app recorded is composed into one PNG per state (resvg, WebAssembly), in the
 * preview's proportions, as docs/streamdeck/plugin-<state>.png.
 *
 * Needs a Python with agentlight installed: $AGENTLIGHT_PYTHON, else the python beside
 * $AGENTLIGHT_BIN, else python3.
 */
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { ACTIONS, FakeApp, PLUGIN_DIR, type Sent, svgOf } from "./fake-app.js";
import { StandIn } from "./standin.js";

const ROOT = path.resolve(PLUGIN_DIR, "..");
const OUT = path.resolve(ROOT, "..", "docs", "streamdeck");
const KEY = 144;
const GAP = 32; // the preview's gap and margin (16 px at 72 px keys, zoomed twice)
const COLS = 5;
const ROWS = 3;

function python(): string {
	if (process.env.AGENTLIGHT_PYTHON) return process.env.AGENTLIGHT_PYTHON;
	if (process.env.AGENTLIGHT_BIN) return path.join(path.dirname(process.env.AGENTLIGHT_BIN), "python");
	return "python3";
}

type Scenario = { status: Record<string, unknown>; details: string | null };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The image a key showed last; of a blinking key's two, the bright one (as the driver's pictures). */
function shown(app: FakeApp, context: string, from: number): string {
	let images = app.images(context).filter((m: Sent) => app.sent.indexOf(m) >= from);
	if (!images.length) images = app.images(context);
	const svgs = [...new Set(images.map(svgOf))];
	if (svgs.length >= 2) {
		const bright = svgs.filter((s) => !/stroke-width/.test(s));
		if (bright.length) return bright[bright.length - 1];
	}
	return svgs[svgs.length - 1] ?? "";
}

/** Keys (and an optional strip) as one deck picture, like `agentlight preview`'s. */
function compose(keys: string[], strip: string | null): string {
	const width = COLS * KEY + (COLS - 1) * GAP + 2 * GAP;
	const height = ROWS * KEY + (ROWS - 1) * GAP + 2 * GAP + (strip ? 100 * 2 + GAP : 0);
	const parts = [`<rect width="${width}" height="${height}" fill="#1c1c1e"/>`];
	parts.push(`<clipPath id="key"><rect width="${KEY}" height="${KEY}" rx="16"/></clipPath>`);
	keys.forEach((svg, i) => {
		const x = GAP + (i % COLS) * (KEY + GAP);
		const y = GAP + Math.floor(i / COLS) * (KEY + GAP);
		const inner = svg ? svg.replace(/^<svg [^>]*>/, "").replace(/<\/svg>$/, "").replace(/<title>.*?<\/title>/, "") : `<rect width="${KEY}" height="${KEY}" fill="#000"/>`;
		parts.push(`<g transform="translate(${x} ${y})" clip-path="url(#key)">${inner}</g>`);
	});
	if (strip) {
		const y = GAP + ROWS * (KEY + GAP);
		const inner = strip.replace(/^<svg [^>]*>/, "").replace(/<\/svg>$/, "").replace(/<title>.*?<\/title>/, "");
		parts.push(`<g transform="translate(${GAP} ${y}) scale(2)">${inner}</g>`);
	}
	return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join("")}</svg>`;
}

async function main(): Promise<void> {
	const require = createRequire(import.meta.url);
	await initWasm(readFileSync(require.resolve("@resvg/resvg-wasm/index_bg.wasm")));
	const scenarios = JSON.parse(execFileSync(python(), [path.join(ROOT, "scripts", "scenarios.py")], { encoding: "utf8" })) as Record<string, Scenario>;
	const dir = mkdtempSync(path.join(os.tmpdir(), "agentlight-pictures-"));
	const file = path.join(dir, "agentlight", "api.json");
	const wanted = ["working", "waiting", "error", "paging", "details", "disconnected", "offline"];
	try {
		for (const name of wanted) {
			const scenario = scenarios[name] ?? scenarios.idle;
			const api = new StandIn(scenario.status, file);
			if (name !== "offline") await api.start();
			const app = await FakeApp.launch({ ...process.env, XDG_RUNTIME_DIR: dir, AGENTLIGHT_API_FILE: "" });
			const paging = name === "paging";
			const contexts: string[] = [];
			for (let key = 0; key < COLS * ROWS; key++) {
				const at = { row: Math.floor(key / COLS), column: key % COLS };
				const context = `k${key}`;
				contexts.push(context);
				if (key === 0) app.willAppear(ACTIONS.agent, context, at);
				else if (paging && key === COLS * ROWS - 1) app.willAppear(ACTIONS.control, context, { ...at, settings: { control: "page_next" } });
				else app.willAppear(ACTIONS.session, context, { ...at, settings: { slot: key } });
			}
			app.willAppear(ACTIONS.agent, "dial", { device: "PLUS", controller: "Encoder" });
			await sleep(700);
			let from = 0;
			if (scenario.details) {
				const keys = (scenario.status.sessions as { key: string }[]).map((s) => s.key);
				from = app.sent.length;
				app.press(`k${keys.indexOf(scenario.details) + 1}`);
				await sleep(500);
			}
			const keys = contexts.map((c) => shown(app, c, from));
			const png = new Resvg(compose(keys, shown(app, "dial", 0)), { fitTo: { mode: "original" } }).render().asPng();
			const out = path.join(OUT, `plugin-${name}.png`);
			writeFileSync(out, png);
			console.log(out);
			await app.close();
			await api.stop();
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

await main();
