/**
 * The plugin's link to agentlight: follows GET /v1/status/stream (Server-Sent Events: the
 * full status on connect, then one event per change), reconnects with back-off, and says
 * why when it cannot. The moment the stream is lost the link reports "offline", so keys
 * never show a state older than the stream they last had.
 */
import http from "node:http";
import https from "node:https";
import type { Offline } from "../layout.js";
import { parseStatus, type Status } from "../model.js";
import { discover, discoveryPaths, type Endpoint, normalizeUrl } from "./discovery.js";

export type LinkState =
	| { readonly kind: "live"; readonly status: Status }
	| { readonly kind: "offline"; readonly why: Offline; readonly detail: string };

export type Manual = { readonly url: string; readonly token: string | null } | null;

export interface LinkOptions {
	/** A URL and token from the plugin's settings; null: find agentlight by its discovery file. */
	readonly manual?: Manual;
	/** First and longest wait between attempts, ms. */
	readonly minDelay?: number;
	readonly maxDelay?: number;
	/** No byte (event or keepalive comment) for this long: the stream is dead, ms. */
	readonly stallAfter?: number;
	/** Discovery files to read, in order (default: where agentlight writes one). */
	readonly discoveryFiles?: readonly string[];
	readonly now?: () => number;
}

/** One request's outcome, for the back-off and the Agent key's words. */
class Refused extends Error {
	constructor(
		readonly why: Offline,
		readonly detail: string,
	) {
		super(`${why}: ${detail}`);
	}
}

const MAX_EVENT = 4 * 1024 * 1024; // a status with thousands of sessions, never unbounded

export class Link {
	private readonly options: Required<Omit<LinkOptions, "manual" | "discoveryFiles">> & Pick<LinkOptions, "discoveryFiles">;
	private manual: Manual;
	private request: http.ClientRequest | null = null;
	private timer: NodeJS.Timeout | null = null;
	private stall: NodeJS.Timeout | null = null;
	private delay: number;
	private running = false;
	private generation = 0;
	private current: LinkState = { kind: "offline", why: "connecting", detail: "" };
	endpoint: Endpoint | null = null;

	constructor(
		private readonly onState: (state: LinkState) => void,
		options: LinkOptions = {},
	) {
		this.manual = options.manual ?? null;
		this.options = {
			minDelay: options.minDelay ?? 250,
			maxDelay: options.maxDelay ?? 2000,
			stallAfter: options.stallAfter ?? 40_000,
			discoveryFiles: options.discoveryFiles,
			now: options.now ?? (() => performance.now()),
		};
		this.delay = this.options.minDelay;
	}

	get state(): LinkState {
		return this.current;
	}

	start(): void {
		if (this.running) return;
		this.running = true;
		this.attempt();
	}

	stop(): void {
		this.running = false;
		this.generation += 1;
		this.clearTimers();
		this.request?.destroy();
		this.request = null;
	}

	/** New settings (URL and token, or none): drop the stream and connect again now. */
	configure(manual: Manual): void {
		this.manual = manual;
		this.retryNow();
	}

	/** Try again at once (a press on the Agent key while offline). */
	retryNow(): void {
		if (!this.running) return;
		this.generation += 1;
		this.clearTimers();
		this.request?.destroy();
		this.request = null;
		this.delay = this.options.minDelay;
		this.attempt();
	}

	private clearTimers(): void {
		if (this.timer) clearTimeout(this.timer);
		if (this.stall) clearTimeout(this.stall);
		this.timer = null;
		this.stall = null;
	}

	private set(state: LinkState): void {
		const prev = this.current;
		this.current = state;
		if (
			state.kind === "offline" &&
			prev.kind === "offline" &&
			prev.why === state.why &&
			prev.detail === state.detail
		) {
			return; // the same "offline" again: nothing new to draw
		}
		this.onState(state);
	}

	private async resolve(): Promise<Endpoint> {
		const manual = this.manual;
		if (manual && manual.url) {
			const url = normalizeUrl(manual.url);
			if (url === null) throw new Refused("bad url", manual.url.slice(0, 60));
			return { url, token: manual.token };
		}
		const found = await discover(this.options.discoveryFiles ?? discoveryPaths());
		if (found === null) throw new Refused("not running", "");
		return found;
	}

	private attempt(): void {
		const generation = this.generation;
		this.resolve().then(
			(endpoint) => {
				if (generation !== this.generation || !this.running) return;
				this.endpoint = endpoint;
				this.follow(endpoint, generation);
			},
			(err: unknown) => this.failed(err, generation),
		);
	}

	private failed(err: unknown, generation: number): void {
		if (generation !== this.generation || !this.running) return;
		this.request?.destroy();
		this.request = null;
		if (this.stall) clearTimeout(this.stall);
		this.stall = null;
		if (err instanceof Refused) this.set({ kind: "offline", why: err.why, detail: err.detail });
		else this.set({ kind: "offline", why: "lost", detail: "" });
		// A refused token will not start working by itself: retry slowly until settings change.
		const refused = err instanceof Refused && err.why === "token refused";
		const wait = refused ? Math.max(this.options.maxDelay, 10_000) : this.delay;
		this.delay = Math.min(this.options.maxDelay, this.delay * 2);
		this.generation += 1;
		const next = this.generation;
		this.timer = setTimeout(() => {
			this.timer = null;
			if (next === this.generation && this.running) this.attempt();
		}, wait);
	}

	private follow(endpoint: Endpoint, generation: number): void {
		const url = new URL(`${endpoint.url}/v1/status/stream`);
		const headers: Record<string, string> = { Accept: "text/event-stream", "Cache-Control": "no-cache" };
		if (endpoint.token) headers.Authorization = `Bearer ${endpoint.token}`;
		const get = url.protocol === "https:" ? https.get : http.get;
		const req = get(url, { headers, agent: false }, (res) => {
			if (generation !== this.generation) {
				res.destroy();
				return;
			}
			if (res.statusCode === 401 || res.statusCode === 403) {
				res.resume();
				this.failed(new Refused("token refused", ""), generation);
				return;
			}
			if (res.statusCode !== 200) {
				res.resume();
				this.failed(new Refused("lost", `HTTP ${res.statusCode}`), generation);
				return;
			}
			res.setEncoding("utf8");
			let buffer = "";
			let data: string[] = [];
			this.armStall(generation);
			res.on("data", (chunk: string) => {
				if (generation !== this.generation) return;
				this.armStall(generation);
				buffer += chunk;
				if (buffer.length > MAX_EVENT) {
					this.failed(new Refused("lost", "event too large"), generation);
					return;
				}
				// Events end with a blank line; lines end with \n, \r\n or \r.
				let at: number;
				while ((at = buffer.search(/\r\n|\r|\n/)) >= 0) {
					const line = buffer.slice(0, at);
					const sep = buffer.startsWith("\r\n", at) ? 2 : 1;
					if (buffer[at] === "\r" && at + 1 === buffer.length) break; // maybe half of \r\n
					buffer = buffer.slice(at + sep);
					if (line === "") {
						if (data.length) this.event(data.join("\n"), generation);
						data = [];
					} else if (line.startsWith("data:")) {
						data.push(line.slice(line[5] === " " ? 6 : 5));
					}
					// "event:", "id:", "retry:" and ":" comments (keepalives) need nothing here.
				}
			});
			const lost = (): void => this.failed(new Refused("lost", ""), generation);
			res.on("end", lost);
			res.on("error", lost);
			res.on("close", lost);
		});
		req.on("error", (err: NodeJS.ErrnoException) => {
			const gone = err.code === "ECONNREFUSED" || err.code === "ECONNRESET" || err.code === "ENOENT";
			this.failed(new Refused(gone ? "not running" : "lost", gone ? "" : (err.code ?? err.message)), generation);
		});
		this.request = req;
	}

	private armStall(generation: number): void {
		if (this.stall) clearTimeout(this.stall);
		this.stall = setTimeout(() => this.failed(new Refused("lost", "no keepalive"), generation), this.options.stallAfter);
	}

	private event(data: string, generation: number): void {
		let status: Status;
		try {
			status = parseStatus(JSON.parse(data), this.options.now());
		} catch {
			return; // not a status (a newer event kind): nothing to draw from it
		}
		if (generation !== this.generation) return;
		this.delay = this.options.minDelay;
		this.set({ kind: "live", status });
	}
}

/** What a press sends to POST /v1/input. */
export type InputBody = Record<string, unknown>;

/** Posts one press; resolves to the HTTP status (0: agentlight could not be reached). */
export function postInput(endpoint: Endpoint, body: InputBody, timeoutMs = 2000): Promise<number> {
	return new Promise((resolve) => {
		const url = new URL(`${endpoint.url}/v1/input`);
		const payload = JSON.stringify(body);
		const headers: Record<string, string | number> = {
			"Content-Type": "application/json",
			"Content-Length": Buffer.byteLength(payload),
		};
		if (endpoint.token) headers.Authorization = `Bearer ${endpoint.token}`;
		const send = url.protocol === "https:" ? https.request : http.request;
		const req = send(url, { method: "POST", headers, agent: false, timeout: timeoutMs }, (res) => {
			res.resume();
			res.on("end", () => resolve(res.statusCode ?? 0));
		});
		req.on("timeout", () => req.destroy());
		req.on("error", () => resolve(0));
		req.end(payload);
	});
}
