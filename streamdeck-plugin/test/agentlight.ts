/**
 * A real agentlight for the end-to-end tests: `agentlight simulate` (the built-in PocketPaw
 * that walks through every state) and `agentlight run` with the API on 127.0.0.1, in a
 * runtime directory of the test's own, so the plugin finds it by its discovery file.
 *
 * Which agentlight: $AGENTLIGHT_BIN (e.g. the project's venv: .venv/bin/agentlight), else
 * `agentlight` on PATH (CI runs the tests inside the venv it installed agentlight into).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export function agentlightBin(): string | null {
	const bin = process.env.AGENTLIGHT_BIN || "agentlight";
	const probe = spawnSync(bin, ["--version"], { encoding: "utf8" });
	return probe.status === 0 ? bin : null;
}

/** The environment agentlight and the plugin share: their own runtime directory. */
export function sharedEnv(runDir: string): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: runDir, AGENTLIGHT_API_FILE: "" };
	delete env.RUNTIME_DIRECTORY; // systemd's, if the tests run under a service
	delete env.NOTIFY_SOCKET;
	return env;
}

interface Running {
	readonly child: ChildProcess;
	log: string;
}

/** Starts `bin args…` and waits until a line of its stderr matches `ready`. */
async function start(bin: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, ready: RegExp, timeoutMs = 30_000): Promise<Running & { match: RegExpExecArray }> {
	const child = spawn(bin, args, { env, cwd, stdio: ["ignore", "ignore", "pipe"] });
	const running: Running = { child, log: "" };
	child.stderr?.setEncoding("utf8");
	const match = await new Promise<RegExpExecArray>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`${args[0]}: not ready in ${timeoutMs} ms: ${running.log}`)), timeoutMs);
		child.stderr?.on("data", (d: string) => {
			running.log += d;
			const m = ready.exec(running.log);
			if (m) {
				clearTimeout(timer);
				resolve(m);
			}
		});
		child.once("exit", (code) => {
			clearTimeout(timer);
			reject(new Error(`${args[0]} exited (${code}): ${running.log}`));
		});
	});
	// The same object the listener appends to: its log keeps growing.
	return Object.assign(running, { match });
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const exited = once(child, "exit");
	child.kill(signal);
	await exited;
}

export class Agentlight {
	readonly dir: string;
	readonly runDir: string;
	readonly env: NodeJS.ProcessEnv;
	private sim: (Running & { match: RegExpExecArray }) | null = null;
	private bridge: Running | null = null;
	simUrl = "";
	apiUrl = "";

	constructor(
		readonly bin: string,
		private readonly speed = 8,
	) {
		this.dir = mkdtempSync(path.join(os.tmpdir(), "agentlight-e2e-"));
		this.runDir = path.join(this.dir, "run");
		this.env = sharedEnv(this.runDir);
	}

	/** The bridge's stderr so far (its log: "api: press session …" lines). */
	get log(): string {
		return this.bridge?.log ?? "";
	}

	async startSimulator(port = 0): Promise<void> {
		this.sim = await start(this.bin, ["simulate", "--port", String(port), "--speed", String(this.speed)], this.env, this.dir, /on (http:\/\/127\.0\.0\.1:\d+)/);
		this.simUrl = this.sim.match[1];
	}

	async stopSimulator(): Promise<void> {
		if (this.sim) await stop(this.sim.child);
		this.sim = null;
	}

	async startBridge(): Promise<void> {
		const config = path.join(this.dir, "agentlight.toml");
		writeFileSync(
			config,
			`[bridge]\nlog_level = "info"\n\n` +
				`[[sources]]\ntype = "pocketpaw"\nurl = "${this.simUrl}"\nreconnect_min = 0.05\nreconnect_max = 0.5\n\n` +
				`[[devices]]\ntype = "record"\npath = "record.jsonl"\n\n` +
				`[api]\nlisten = "127.0.0.1:0"\n`,
		);
		const bridge = await start(this.bin, ["run", "-c", config], this.env, this.dir, /api: listening on (http:\/\/\S+)/);
		this.bridge = bridge;
		this.apiUrl = bridge.match[1];
	}

	async stopBridge(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
		if (this.bridge) await stop(this.bridge.child, signal);
	}

	async close(): Promise<void> {
		await this.stopBridge();
		await this.stopSimulator();
		rmSync(this.dir, { recursive: true, force: true });
	}
}
