/**
 * A small stand-in for agentlight's local API, for the fake-app tests that need states
 * agentlight cannot be asked for on demand (a refused token, a stale discovery file, a
 * look the test made up). Serves GET /v1/status/stream (SSE: the full status on connect,
 * then one event per change), GET /v1/status and POST /v1/input on 127.0.0.1, and writes
 * the discovery file while it runs.
 */
import { once } from "node:events";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { Socket } from "node:net";
import path from "node:path";

export interface LookDoc {
	color: string;
	effect: string;
	period: number;
	brightness: number;
	label: string;
}

export interface SessionDoc {
	source?: string;
	key: string;
	channel?: string;
	state: string;
	title?: string | null;
	tool?: string | null;
	error?: string | null;
	seconds?: number | null;
	tokens?: { input: number; output: number; reasoning: number } | null;
	look: LookDoc;
	/** The request it waits on (status_json's ask), and whether its run can be stopped. */
	ask?: Record<string, unknown> | null;
	stoppable?: boolean;
}

/** A status document as agentlight's API serves it (bridge/api/documents.py). */
export function statusDoc(global: string, globalLook: LookDoc, sessions: SessionDoc[], connected = true, detail: string | null = null): Record<string, unknown> {
	return {
		version: 1,
		global,
		t: Date.now() / 1000,
		look: globalLook,
		focus: null,
		sessions: sessions.map((s) => ({
			source: s.source ?? "pocketpaw",
			key: s.key,
			id: s.key,
			channel: s.channel ?? "websocket",
			title: s.title ?? null,
			state: s.state,
			raw_state: s.state,
			tool: s.tool ?? null,
			seconds: s.seconds === undefined ? 3 : s.seconds,
			tokens: s.tokens ?? null,
			usage: [],
			error: s.error ?? null,
			steps: null,
			parent: null,
			extra: {},
			ask: s.ask ?? null,
			stoppable: s.stoppable ?? false,
			look: s.look,
		})),
		sources: [
			{
				name: "pocketpaw",
				connection: connected ? "connected" : "disconnected",
				state: global,
				detail,
				active_sessions: connected ? sessions.length : null,
				max_concurrent: connected ? 4 : null,
			},
		],
	};
}

export class StandIn {
	private server: http.Server | null = null;
	private readonly streams = new Set<http.ServerResponse>();
	private readonly sockets = new Set<Socket>();
	readonly inputs: unknown[] = [];
	port = 0;
	token: string | null = null;
	/** When it last sent an event (performance.now(), ms), per change. */
	sentAt: number[] = [];

	constructor(
		private doc: Record<string, unknown>,
		private readonly discoveryFile: string | null,
	) {}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	async start(port = this.port): Promise<void> {
		const server = http.createServer((req, res) => this.handle(req, res));
		server.on("connection", (s) => {
			this.sockets.add(s);
			s.on("close", () => this.sockets.delete(s));
		});
		server.listen(port, "127.0.0.1");
		await once(server, "listening");
		this.server = server;
		this.port = (server.address() as { port: number }).port;
		if (this.discoveryFile) {
			mkdirSync(path.dirname(this.discoveryFile), { recursive: true, mode: 0o700 });
			const body: Record<string, unknown> = { url: this.url, pid: process.pid, version: "test", api: 1 };
			writeFileSync(this.discoveryFile, JSON.stringify(body), { mode: 0o600 });
		}
	}

	/** Stops as a killed agentlight would: every connection cut, the discovery file gone. */
	async stop(): Promise<void> {
		if (this.discoveryFile) rmSync(this.discoveryFile, { force: true });
		const server = this.server;
		this.server = null;
		this.streams.clear();
		for (const s of this.sockets) s.destroy();
		if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
	}

	set(doc: Record<string, unknown>): void {
		this.doc = doc;
		const data = `data: ${JSON.stringify(doc)}\n\n`;
		this.sentAt.push(performance.now());
		for (const res of this.streams) res.write(data);
	}

	get clients(): number {
		return this.streams.size;
	}

	private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
		if (this.token !== null && req.headers.authorization !== `Bearer ${this.token}`) {
			res.writeHead(401, { "Content-Type": "application/json" }).end('{"error":"token"}');
			return;
		}
		if (req.method === "GET" && req.url === "/v1/status/stream") {
			res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
			res.write(`data: ${JSON.stringify(this.doc)}\n\n`);
			this.streams.add(res);
			res.on("close", () => this.streams.delete(res));
			return;
		}
		if (req.method === "GET" && req.url === "/v1/status") {
			res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(this.doc));
			return;
		}
		if (req.method === "POST" && req.url === "/v1/input") {
			let body = "";
			req.setEncoding("utf8");
			req.on("data", (c: string) => (body += c));
			req.on("end", () => {
				if (req.headers["content-type"] !== "application/json") {
					res.writeHead(415).end();
					return;
				}
				this.inputs.push(JSON.parse(body));
				res.writeHead(200, { "Content-Type": "application/json" }).end('{"ok":true}');
			});
			return;
		}
		res.writeHead(404).end();
	}
}
