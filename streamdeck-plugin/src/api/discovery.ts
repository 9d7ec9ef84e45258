/**
 * Finding a running agentlight: the discovery file its API writes while it runs (URL, pid,
 * version, maybe a token), in the user's runtime directory or the platform's equivalent.
 * A file whose pid is dead was left by a crash and is ignored.
 */
import { readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export interface Endpoint {
	/** Base URL, e.g. http://127.0.0.1:8737 (no trailing slash). */
	readonly url: string;
	readonly token: string | null;
}

export interface Discovered extends Endpoint {
	readonly pid: number | null;
	readonly version: string | null;
}

/** Where agentlight writes its discovery file on this platform. */
export function discoveryPath(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
	if (env.AGENTLIGHT_API_FILE) return env.AGENTLIGHT_API_FILE;
	if (platform === "win32") {
		const base = env.LOCALAPPDATA ?? path.join(os.homedir(), "AppData", "Local");
		return path.win32.join(base, "agentlight", "api.json");
	}
	if (platform === "darwin") {
		return path.join(os.homedir(), "Library", "Application Support", "agentlight", "api.json");
	}
	const runtime = env.XDG_RUNTIME_DIR;
	if (runtime) return path.join(runtime, "agentlight", "api.json");
	const uid = typeof process.getuid === "function" ? process.getuid() : 0;
	return path.join(os.tmpdir(), `agentlight-${uid}`, "api.json");
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		// EPERM: it runs, as another user; only ESRCH means it is gone.
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

/**
 * The running agentlight's endpoint from its discovery file, or null when there is none
 * (no file, a file left by a process that died, or a file that is not a discovery file).
 */
export async function discover(file: string = discoveryPath()): Promise<Discovered | null> {
	let raw: string;
	try {
		raw = await readFile(file, "utf8");
	} catch {
		return null;
	}
	let doc: unknown;
	try {
		doc = JSON.parse(raw);
	} catch {
		return null;
	}
	if (typeof doc !== "object" || doc === null) return null;
	const d = doc as Record<string, unknown>;
	const url = typeof d.url === "string" ? normalizeUrl(d.url) : null;
	if (url === null) return null;
	const pid = typeof d.pid === "number" && Number.isInteger(d.pid) && d.pid > 0 ? d.pid : null;
	if (pid !== null && !alive(pid)) return null;
	return {
		url,
		token: typeof d.token === "string" && d.token ? d.token : null,
		pid,
		version: typeof d.version === "string" ? d.version : null,
	};
}

/** `text` as a base URL (http or https, no path past the host), or null. */
export function normalizeUrl(text: string): string | null {
	let url: URL;
	try {
		url = new URL(text.trim());
	} catch {
		return null;
	}
	if (url.protocol !== "http:" && url.protocol !== "https:") return null;
	return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "").replace(/\/v1$/, "")}`;
}
