/**
 * Finding a running agentlight: the discovery file its API writes while it runs (URL, pid,
 * version, maybe a token), in the user's runtime directory or the platform's equivalent.
 * A file whose pid is dead (or now names a process that started after the bridge) was left
 * by a crash and is ignored, and so is one in a directory another user could have written.
 */
import { constants } from "node:fs";
import { lstat, open, readFile } from "node:fs/promises";
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

/**
 * Whether only this user (or root) can have put files in `dir`: the /tmp fallback can be
 * made first by another user, with an api.json naming their own server (it would get the
 * presses and the token). The system service's directory is made by systemd in root's /run.
 */
async function trusted(dir: string): Promise<boolean> {
	if (process.platform === "win32" || dir === SYSTEM_DIR) return true;
	try {
		const st = await lstat(dir);
		const uid = typeof process.getuid === "function" ? process.getuid() : -1;
		return st.isDirectory() && (st.uid === uid || st.uid === 0) && (st.mode & 0o022) === 0;
	} catch {
		return false;
	}
}

/** When process `pid` started, in clock ticks after boot (Linux's /proc), or null. */
async function started(pid: number): Promise<number | null> {
	try {
		const raw = await readFile(`/proc/${pid}/stat`, "latin1");
		const value = Number(raw.slice(raw.lastIndexOf(")") + 1).trim().split(/\s+/)[19]);
		return Number.isInteger(value) ? value : null;
	} catch {
		return null;
	}
}

const MAX_FILE = 64 * 1024;

async function readDiscovery(file: string): Promise<Discovered | null> {
	if (!(await trusted(path.dirname(file)))) return null;
	let raw: string;
	try {
		// Not through a link, and a regular file of sane size only (never a FIFO).
		const handle = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
		try {
			const st = await handle.stat();
			if (!st.isFile() || st.size > MAX_FILE) return null;
			raw = await handle.readFile("utf8");
		} finally {
			await handle.close();
		}
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
	if (pid !== null && typeof d.started === "number" && Number.isInteger(d.started)) {
		const now = await started(pid);
		if (now !== null && now !== d.started) return null; // its pid is another process's now
	}
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
