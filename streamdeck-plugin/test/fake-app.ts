/**
 * A fake Stream Deck app: the app's side of the plugin WebSocket protocol. It launches the
 * built plugin the way Elgato's app does (`node bin/plugin.js -port P -pluginUUID U
 * -registerEvent registerPlugin -info {...}`, in the plugin's folder), takes its
 * registration, sends it events (willAppear, keyDown, keyUp, dial events, settings) and
 * records what it sends back (setImage, setFeedback, setTitle, showAlert, …).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebSocket, WebSocketServer } from "ws";

export const PLUGIN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../com.agentlight.agent.sdPlugin");
export const UUID = "com.agentlight.agent";
export const ACTIONS = { agent: `${UUID}.agent`, session: `${UUID}.session`, control: `${UUID}.control` } as const;

export interface Sent {
	readonly event: string;
	readonly context?: string;
	readonly payload?: Record<string, unknown>;
	/** When the fake app received it (performance.now(), ms). */
	readonly at: number;
}

export interface Placement {
	readonly device?: string;
	readonly row?: number;
	readonly column?: number;
	readonly controller?: "Keypad" | "Encoder";
	readonly settings?: Record<string, unknown>;
}

export const DEVICES = [
	{ id: "DECK", name: "Stream Deck", size: { columns: 5, rows: 3 }, type: 0 },
	{ id: "PLUS", name: "Stream Deck +", size: { columns: 4, rows: 2 }, type: 7 },
];

type Waiter = { pred: (m: Sent) => boolean; resolve: (m: Sent) => void };

export class FakeApp {
	readonly sent: Sent[] = [];
	globalSettings: Record<string, unknown> = {};
	private readonly waiters = new Set<Waiter>();
	private readonly placed = new Map<string, { action: string; device: string; coordinates: { row: number; column: number }; controller: string; settings: Record<string, unknown> }>();
	private socket: WebSocket | null = null;
	stderr = "";

	private constructor(
		private readonly server: WebSocketServer,
		readonly child: ChildProcess,
	) {}

	/** Starts the plugin and waits for its registration. */
	static async launch(env: NodeJS.ProcessEnv, globalSettings: Record<string, unknown> = {}): Promise<FakeApp> {
		const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
		await once(server, "listening");
		const port = (server.address() as { port: number }).port;
		const manifest = JSON.parse(readFileSync(path.join(PLUGIN_DIR, "manifest.json"), "utf8")) as { Version: string };
		const info = {
			application: { font: "Helvetica", language: "en", platform: "mac", platformVersion: "14.0", version: "6.9.0.20000" },
			plugin: { uuid: UUID, version: manifest.Version },
			devicePixelRatio: 2,
			colors: {},
			devices: DEVICES,
		};
		const child = spawn(
			process.execPath,
			["bin/plugin.js", "-port", String(port), "-pluginUUID", UUID, "-registerEvent", "registerPlugin", "-info", JSON.stringify(info)],
			{ cwd: PLUGIN_DIR, env, stdio: ["ignore", "ignore", "pipe"] },
		);
		const app = new FakeApp(server, child);
		app.globalSettings = globalSettings;
		child.stderr?.setEncoding("utf8");
		child.stderr?.on("data", (d: string) => {
			app.stderr += d;
		});
		const registered = new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`no registration in 10 s; stderr: ${app.stderr}`)), 10_000);
			server.on("connection", (ws) => {
				app.socket = ws;
				ws.on("message", (data) => {
					const msg = JSON.parse(data.toString()) as Omit<Sent, "at"> & { uuid?: string };
					if (msg.event === "registerPlugin") {
						if (msg.uuid !== UUID) reject(new Error(`registered as ${msg.uuid}`));
						clearTimeout(timer);
						resolve();
						return;
					}
					app.receive({ ...msg, at: performance.now() });
				});
			});
			child.once("exit", (code) => reject(new Error(`plugin exited (${code}) before registering: ${app.stderr}`)));
		});
		await registered;
		return app;
	}

	private receive(msg: Sent): void {
		if (msg.event === "getGlobalSettings") {
			this.send({ event: "didReceiveGlobalSettings", payload: { settings: this.globalSettings } });
		} else if (msg.event === "setGlobalSettings") {
			this.globalSettings = (msg.payload ?? {}) as Record<string, unknown>;
		}
		this.sent.push(msg);
		for (const w of [...this.waiters]) {
			if (w.pred(msg)) {
				this.waiters.delete(w);
				w.resolve(msg);
			}
		}
	}

	send(msg: Record<string, unknown>): void {
		if (!this.socket) throw new Error("plugin not connected");
		this.socket.send(JSON.stringify(msg));
	}

	/** The first message (already sent, from index `from` on, or still to come) that `pred` accepts. */
	waitFor(pred: (m: Sent) => boolean, timeoutMs = 5000, from = 0, what = "a message"): Promise<Sent> {
		const found = this.sent.slice(from).find(pred);
		if (found) return Promise.resolve(found);
		return new Promise((resolve, reject) => {
			const waiter: Waiter = {
				pred,
				resolve: (m) => {
					clearTimeout(timer);
					resolve(m);
				},
			};
			const timer = setTimeout(() => {
				this.waiters.delete(waiter);
				reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(this.sent.slice(-3).map(describe))}`));
			}, timeoutMs);
			this.waiters.add(waiter);
		});
	}

	/** The next image (or touch-strip feedback) for `context` whose words match `re`. */
	waitForKey(context: string, re: RegExp, timeoutMs = 5000, from = 0): Promise<Sent> {
		return this.waitFor((m) => m.context === context && re.test(words(m)), timeoutMs, from, `${context} to say ${re}`);
	}

	/** What a key shows now: the words of the last image sent to it. */
	shows(context: string): string {
		const last = [...this.sent].reverse().find((m) => m.context === context && (m.event === "setImage" || m.event === "setFeedback"));
		return last ? words(last) : "";
	}

	images(context?: string): Sent[] {
		return this.sent.filter((m) => (m.event === "setImage" || m.event === "setFeedback") && (context === undefined || m.context === context));
	}

	willAppear(action: string, context: string, at: Placement = {}): void {
		const device = at.device ?? "DECK";
		const coordinates = { row: at.row ?? 0, column: at.column ?? 0 };
		const controller = at.controller ?? "Keypad";
		const settings = at.settings ?? {};
		this.placed.set(context, { action, device, coordinates, controller, settings });
		this.send({
			action,
			event: "willAppear",
			context,
			device,
			payload: { settings, coordinates, controller, state: 0, isInMultiAction: false },
		});
	}

	willDisappear(context: string): void {
		const p = this.placed.get(context);
		if (!p) return;
		this.placed.delete(context);
		this.send({ action: p.action, event: "willDisappear", context, device: p.device, payload: { settings: p.settings, coordinates: p.coordinates, controller: p.controller, state: 0, isInMultiAction: false } });
	}

	private event(event: string, context: string, extra: Record<string, unknown> = {}): void {
		const p = this.placed.get(context);
		if (!p) throw new Error(`no action ${context}`);
		this.send({ action: p.action, event, context, device: p.device, payload: { settings: p.settings, coordinates: p.coordinates, ...extra } });
	}

	keyDown(context: string): void {
		this.event("keyDown", context, { state: 0, isInMultiAction: false });
	}

	keyUp(context: string): void {
		this.event("keyUp", context, { state: 0, isInMultiAction: false });
	}

	press(context: string): void {
		this.keyDown(context);
		this.keyUp(context);
	}

	dialRotate(context: string, ticks: number): void {
		this.event("dialRotate", context, { ticks, pressed: false, controller: "Encoder" });
	}

	dialDown(context: string): void {
		this.event("dialDown", context, { controller: "Encoder" });
	}

	dialUp(context: string): void {
		this.event("dialUp", context, { controller: "Encoder" });
	}

	touchTap(context: string): void {
		this.event("touchTap", context, { tapPos: [100, 50], hold: false, controller: "Encoder" });
	}

	didReceiveSettings(context: string, settings: Record<string, unknown>): void {
		const p = this.placed.get(context);
		if (!p) throw new Error(`no action ${context}`);
		p.settings = settings;
		this.event("didReceiveSettings", context, { isInMultiAction: false, controller: p.controller });
	}

	propertyInspectorDidAppear(context: string): void {
		const p = this.placed.get(context);
		if (!p) throw new Error(`no action ${context}`);
		this.send({ action: p.action, event: "propertyInspectorDidAppear", context, device: p.device });
	}

	sendToPlugin(context: string, payload: Record<string, unknown>): void {
		const p = this.placed.get(context);
		if (!p) throw new Error(`no action ${context}`);
		this.send({ action: p.action, event: "sendToPlugin", context, payload });
	}

	/** The plugin's resident set size in bytes (Linux /proc). */
	rss(): number {
		const status = readFileSync(`/proc/${this.child.pid}/status`, "utf8");
		const m = /VmRSS:\s+(\d+) kB/.exec(status);
		return m ? Number(m[1]) * 1024 : 0;
	}

	async close(): Promise<void> {
		if (this.child.exitCode === null) {
			const exited = once(this.child, "exit");
			this.child.kill("SIGTERM");
			await exited;
		}
		for (const client of this.server.clients) client.terminate();
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}
}

/** The words an image says (its <title>), from a setImage/setFeedback message. */
export function words(m: Sent): string {
	const svg = svgOf(m);
	const t = /<title>(.*?)<\/title>/s.exec(svg);
	return t ? t[1].replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))) : "";
}

/** The SVG text of a setImage/setFeedback message. */
export function svgOf(m: Sent): string {
	const payload = m.payload ?? {};
	const image = m.event === "setFeedback" ? (payload.strip as string | undefined) : (payload.image as string | undefined);
	if (!image) return "";
	const b64 = /^data:image\/svg\+xml;base64,(.*)$/s.exec(image);
	return b64 ? Buffer.from(b64[1], "base64").toString("utf8") : "";
}

function describe(m: Sent): string {
	return `${m.event}${m.context ? `@${m.context}` : ""}${m.event === "setImage" || m.event === "setFeedback" ? `: ${words(m)}` : ""}`;
}
