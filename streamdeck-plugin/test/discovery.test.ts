/** Finding agentlight's discovery file where bridge/api/discovery.py writes it, per platform. */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { discover, discoveryPaths, normalizeUrl } from "../src/api/discovery.js";

describe("discovery", () => {
	it("looks where agentlight writes: systemd's, XDG's, macOS's TMPDIR, Windows' LOCALAPPDATA, /tmp", () => {
		assert.deepEqual(discoveryPaths({ RUNTIME_DIRECTORY: "/run/user/1000/agentlight:/x" }, "linux"), ["/run/user/1000/agentlight/api.json", "/run/agentlight/api.json"]);
		assert.deepEqual(discoveryPaths({ XDG_RUNTIME_DIR: "/run/user/1000" }, "linux"), ["/run/user/1000/agentlight/api.json", "/run/agentlight/api.json"]);
		assert.deepEqual(discoveryPaths({ TMPDIR: "/var/folders/x/T/" }, "darwin"), ["/var/folders/x/T/agentlight/api.json"]);
		assert.deepEqual(discoveryPaths({ LOCALAPPDATA: "C:\\Users\\me\\AppData\\Local" }, "win32"), ["C:\\Users\\me\\AppData\\Local\\agentlight\\api.json"]);
		assert.match(discoveryPaths({}, "linux")[0], /agentlight-\d+\/api\.json$/);
		assert.deepEqual(discoveryPaths({ AGENTLIGHT_API_FILE: "/x/api.json", XDG_RUNTIME_DIR: "/run/user/1" }, "linux"), ["/x/api.json"]);
	});

	it("takes the first live file; ignores a dead pid, a newer API, and what is not a discovery file", async () => {
		const dir = mkdtempSync(path.join(os.tmpdir(), "agentlight-discovery-"));
		try {
			const file = (name: string, body: unknown): string => {
				const p = path.join(dir, name);
				writeFileSync(p, typeof body === "string" ? body : JSON.stringify(body));
				return p;
			};
			const dead = file("dead.json", { api: 1, url: "http://127.0.0.1:1", pid: 4194305 });
			const newer = file("newer.json", { api: 2, url: "http://127.0.0.1:2", pid: process.pid });
			const junk = file("junk.json", "not json");
			const live = file("live.json", { api: 1, url: "http://127.0.0.1:8737", pid: process.pid, version: "0.1.0", token: "t0k3n" });
			assert.deepEqual(await discover([path.join(dir, "missing.json"), dead, newer, junk, live]), {
				url: "http://127.0.0.1:8737",
				token: "t0k3n",
				pid: process.pid,
				version: "0.1.0",
			});
			assert.equal(await discover([dead, newer, junk]), null);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it("ignores a file another user could have planted, a link, and a pid that is another process's now", async () => {
		const dir = mkdtempSync(path.join(os.tmpdir(), "agentlight-discovery-"));
		try {
			const own = path.join(dir, "own");
			mkdirSync(own, { mode: 0o700 });
			const file = path.join(own, "api.json");
			const start = Number(readFileSync(`/proc/${process.pid}/stat`, "latin1").split(") ")[1].split(" ")[19]);
			const doc = { api: 1, url: "http://127.0.0.1:8737", pid: process.pid, started: start };
			writeFileSync(file, JSON.stringify(doc));
			assert.equal((await discover([file]))?.url, "http://127.0.0.1:8737");
			chmodSync(own, 0o777); // anyone may write there
			assert.equal(await discover([file]), null);
			chmodSync(own, 0o700);
			writeFileSync(file, JSON.stringify({ ...doc, started: start - 1 }));
			assert.equal(await discover([file]), null);
			rmSync(file);
			writeFileSync(path.join(dir, "elsewhere.json"), JSON.stringify(doc));
			symlinkSync(path.join(dir, "elsewhere.json"), file);
			assert.equal(await discover([file]), null);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it("takes a URL as a base: no trailing slash or /v1, http(s) only", () => {
		assert.equal(normalizeUrl(" http://127.0.0.1:8737/ "), "http://127.0.0.1:8737");
		assert.equal(normalizeUrl("http://pi.local:8737/v1"), "http://pi.local:8737");
		assert.equal(normalizeUrl("file:///etc/passwd"), null);
		assert.equal(normalizeUrl("nonsense"), null);
	});
});
