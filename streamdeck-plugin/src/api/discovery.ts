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

/**
 * Where agentlight keeps its discovery file, in the order a client looks (bridge/api/
 * discovery.py's runtime_dir and search_paths): systemd's $RUNTIME_DIRECTORY, else
 * $XDG_RUNTIME_DIR/agentlight, else $TMPDIR/agentlight on macOS, %LOCALAPPDATA%\agentlight
 * on Windows, /tmp/agentlight-<uid> elsewhere; then, on Linux, the system service's
 * /run/agentlight. $AGENTLIGHT_API_FILE names one file instead.
 */
export function discoveryPaths(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string[] {
	if (env.AGENTLIGHT_API_FILE) return [env.AGENTLIGHT_API_FILE];
	const join = platform === "win32" ? path.win32.join : path.posix.join;
	let dir: string;
	if (env.RUNTIME_DIRECTORY) dir = env.RUNTIME_DIRECTORY.split(":")[0];
	else if (env.XDG_RUNTIME_DIR) dir = join(env.XDG_RUNTIME_DIR, "agentlight");
	else if (platform === "darwin") dir = join(env.TMPDIR || os.tmpdir(), "agentlight");
	else if (platform === "win32") dir = join(env.LOCALAPPDATA || join(os.homedir(), "AppData", "Local"), "agentlight");
	else dir = join(os.tmpdir(), `agentlight-${typeof process.getuid === "function" ? process.getuid() : 0}`);
	const paths = [join(dir, FILE_NAME)];
	const system = path.posix.join(SYSTEM_DIR, FILE_NAME);
	if (platform === "linux" && !paths.includes(system)) paths.push(system);
	return paths;
}

const FILE_NAME = "api.json";
const SYSTEM_DIR = "/run/agentlight";
/** The API version this plugin speaks (the /v1 in its paths; "api" in the discovery file). */
export const API_VERSION = 1;

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
 * The running agentlight's endpoint from the first discovery file that names one, or null
 * when none does (no file, a file left by a process that died, not a discovery file).
 */
export async function discover(files: readonly string[] = discoveryPaths()): Promise<Discovered | null> {
	for (const file of files) {
		const found = await readDiscovery(file);
		if (found !== null) return found;
	}
	return null;
}

async function readDiscovery(file: string): Promise<Discovered | null> {
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
	if (typeof d.api === "number" && d.api > API_VERSION) return null; // a newer API than this plugin speaks
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
