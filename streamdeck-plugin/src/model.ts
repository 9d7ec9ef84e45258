/**
 * agentlight's status as the plugin reads it from the local API: the versioned status
 * document (bridge/pipeline/status_json.py) with the theme's looks for the global state
 * and each session, and the session in focus (bridge/api/documents.py). The plugin keeps no theme of its own: every colour, effect and label
 * comes from these documents, so a user's theme applies to the plugin's keys too.
 */
import type { RGB } from "./render/svg.js";

/** The newest status document version this plugin reads. */
export const STATUS_VERSION = 1;

export interface Look {
	readonly color: RGB;
	readonly effect: string;
	/** Seconds per cycle of the effect (a blink: on, then off). */
	readonly period: number;
	readonly brightness: number;
	readonly label: string;
}

export interface TokenCounts {
	readonly input: number;
	readonly output: number;
	readonly reasoning: number;
}

/** One thing a request may be answered with (status_json's ask.choices[]). */
export interface Choice {
	/** The action a press names: allow, always, deny, answer:2, dismiss. */
	readonly id: string;
	readonly label: string;
	/** allow, always, deny, answer or dismiss. */
	readonly kind: string;
}

/**
 * The request a session waits on (status_json's `ask`): a question with its options, or a
 * tool's permission request with Allow/Deny, with agentlight's verdict (`danger`, `locked`)
 * and, when no device can answer it, where to (`where`).
 */
export interface Ask {
	/** The request's own id: a press names it, so it never answers a newer one. */
	readonly id: string;
	readonly kind: string;
	readonly text: string;
	readonly tool: string | null;
	readonly command: string | null;
	readonly choices: readonly Choice[];
	readonly danger: string;
	readonly locked: string;
	readonly where: string;
}

/** Approvals and a stop need a deliberate gesture (bridge/pipeline/model.py's DELIBERATE). */
export const DELIBERATE: ReadonlySet<string> = new Set(["allow", "always", "stop"]);

/** How long agentlight wants a deliberate gesture: held `hold` s, or a second press within `confirmWithin` s. */
export interface Gesture {
	readonly hold: number;
	readonly confirmWithin: number;
}

/** agentlight's defaults ([answers]), for a document that does not say. */
export const DEFAULT_GESTURE: Gesture = { hold: 0.6, confirmWithin: 3 };

export interface Session {
	/** Source and key: what a press names, and what keeps a session in its slot. */
	readonly ref: string;
	readonly source: string;
	readonly key: string;
	readonly id: string;
	readonly channel: string;
	readonly state: string;
	readonly rawState: string;
	readonly title: string | null;
	readonly tool: string | null;
	readonly error: string | null;
	readonly tokens: TokenCounts | null;
	/** When the session entered its state, in this process's monotonic milliseconds. */
	readonly sinceMs: number | null;
	readonly look: Look;
	/** The bridge's stable slot for it, when the API gives one (0-based). */
	readonly slot: number | null;
	/** The request it waits on, if a device can answer it or must say where to. */
	readonly ask: Ask | null;
	/** Its run can be stopped from a device (the "stop" action). */
	readonly stoppable: boolean;
}

export interface Source {
	readonly name: string;
	readonly connection: string;
	readonly state: string;
	readonly detail: string | null;
	readonly activeSessions: number | null;
	readonly maxConcurrent: number | null;
}

export interface Status {
	readonly global: string;
	readonly look: Look;
	readonly sessions: readonly Session[];
	readonly sources: readonly Source[];
	/** The session agentlight puts first (what a one-light device shows), if it says. */
	readonly focus: string | null;
	/** The deliberate gesture agentlight's [answers] asks for. */
	readonly gesture: Gesture;
}

/** Session states that need someone to look (SessionState.needs_user). */
export const NEEDS_USER: ReadonlySet<string> = new Set(["waiting_for_user", "error"]);

/** Most urgent first (the model's SESSION_URGENCY): picks "the most urgent session" when
 * agentlight does not name one (its status document's `focus`). */
const URGENCY = [
	"error",
	"waiting_for_user",
	"tool_running",
	"streaming",
	"thinking",
	"pending",
	"interrupted",
	"done",
	"unknown",
];

export function urgency(state: string): number {
	const rank = URGENCY.indexOf(state);
	return rank < 0 ? URGENCY.length - 1 : rank;
}

/** A look for a document that carries none (an older API): grey, labelled by its state. */
function plainLook(state: string): Look {
	return { color: [160, 160, 160], effect: "solid", period: 1, brightness: 0.5, label: words(state) };
}

export function words(state: string): string {
	const s = state.replace(/_/g, " ");
	return s.charAt(0).toUpperCase() + s.slice(1);
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | null {
	return typeof value === "string" ? value : null;
}

function num(value: unknown): number | null {
	return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export function parseColor(value: unknown): RGB | null {
	if (typeof value === "string") {
		const m = /^#?([0-9a-f]{6})$/i.exec(value.trim());
		if (m) {
			const n = Number.parseInt(m[1], 16);
			return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
		}
	}
	if (Array.isArray(value) && value.length === 3 && value.every((c) => typeof c === "number")) {
		// [r, g, b] in 0..1 (the model's Color) or in 0..255.
		const unit = value.every((c) => c <= 1);
		return value.map((c) => Math.max(0, Math.min(255, Math.round(unit ? c * 255 : c)))) as unknown as RGB;
	}
	return null;
}

export function parseLook(value: unknown, state: string): Look {
	if (!isObj(value)) return plainLook(state);
	const color = parseColor(value.color) ?? plainLook(state).color;
	const period = num(value.period);
	const brightness = num(value.brightness);
	return {
		color,
		effect: text(value.effect) ?? "solid",
		period: period !== null && period > 0 ? period : 1,
		brightness: brightness !== null ? Math.max(0, Math.min(1, brightness)) : 1,
		label: text(value.label) ?? "",
	};
}

/** The look the document gives a session, wherever this API version puts it. */
function sessionLook(doc: Obj, item: Obj, ref: string, index: number): unknown {
	if (isObj(item.look)) return item.look;
	const looks = doc.looks;
	if (isObj(looks)) {
		const sessions = looks.sessions;
		if (Array.isArray(sessions)) {
			const found = sessions.find(
				(s) => isObj(s) && s.source === item.source && s.key === item.key,
			) as Obj | undefined;
			return found && isObj(found.look) ? found.look : (found ?? sessions[index]);
		}
		if (isObj(sessions)) {
			return sessions[ref] ?? sessions[`${String(item.source)}/${String(item.key)}`] ?? sessions[String(item.key)];
		}
	}
	return undefined;
}

function globalLook(doc: Obj): unknown {
	if (isObj(doc.look)) return doc.look;
	const looks = doc.looks;
	if (isObj(looks)) return looks.global;
	return undefined;
}

function tokens(value: unknown): TokenCounts | null {
	if (!isObj(value)) return null;
	return { input: num(value.input) ?? 0, output: num(value.output) ?? 0, reasoning: num(value.reasoning) ?? 0 };
}

// What a press may name (bridge/api/documents.py's _NAME): anything else is not offered.
const ACTION = /^[A-Za-z0-9_.:/+-]{1,64}$/;
const MAX_CHOICES = 16;

function parseAsk(value: unknown): Ask | null {
	if (!isObj(value)) return null;
	const id = text(value.id);
	if (id === null || !ACTION.test(id)) return null;
	const choices: Choice[] = [];
	for (const item of Array.isArray(value.choices) ? value.choices.slice(0, MAX_CHOICES) : []) {
		if (!isObj(item)) continue;
		const cid = text(item.id);
		if (cid === null || !ACTION.test(cid)) continue;
		choices.push({ id: cid, label: text(item.label) ?? cid, kind: text(item.kind) ?? "answer" });
	}
	return {
		id,
		kind: text(value.kind) ?? "question",
		text: text(value.text) ?? "",
		tool: text(value.tool),
		command: text(value.command),
		choices,
		danger: text(value.danger) ?? "",
		locked: text(value.locked) ?? "",
		where: text(value.where) ?? "",
	};
}

function parseGesture(value: unknown): Gesture {
	if (!isObj(value)) return DEFAULT_GESTURE;
	const hold = num(value.hold);
	const within = num(value.confirm_within);
	return {
		hold: hold !== null && hold > 0 && hold <= 60 ? hold : DEFAULT_GESTURE.hold,
		confirmWithin: within !== null && within > 0 && within <= 60 ? within : DEFAULT_GESTURE.confirmWithin,
	};
}

/** Whether a device may answer `ask` at all (model.py's Ask.answerable). */
export function answerable(ask: Ask): boolean {
	return !ask.where && ask.choices.length > 0;
}

export function refOf(source: string, key: string): string {
	return `${source}\u0000${key}`;
}

/**
 * Reads one status document.
 * @param nowMs this process's monotonic clock when the document arrived: a session's time
 *   in state ticks from there, whatever the two machines' wall clocks say.
 * @throws Error when it is not a status document, or is from a newer version.
 */
export function parseStatus(data: unknown, nowMs: number): Status {
	if (!isObj(data)) throw new Error("status: expected an object");
	const version = data.version;
	if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
		throw new Error(`status: no version (${String(version)})`);
	}
	if (version > STATUS_VERSION) throw new Error(`status version ${version} is newer than this plugin reads`);
	const global = text(data.global) ?? "unknown";
	const sessions: Session[] = [];
	const items = Array.isArray(data.sessions) ? data.sessions : [];
	items.forEach((item, index) => {
		if (!isObj(item)) return;
		const source = text(item.source) ?? "";
		const key = text(item.key) ?? "";
		if (!key) return;
		const state = text(item.state) ?? "unknown";
		const ref = refOf(source, key);
		const seconds = num(item.seconds);
		const slot = num(item.slot);
		sessions.push({
			ref,
			source,
			key,
			id: text(item.id) ?? "",
			channel: text(item.channel) ?? "",
			state,
			rawState: text(item.raw_state) ?? state,
			title: text(item.title),
			tool: text(item.tool),
			error: text(item.error),
			tokens: tokens(item.tokens),
			sinceMs: seconds === null ? null : nowMs - Math.max(0, seconds) * 1000,
			look: parseLook(sessionLook(data, item, ref, index), state),
			slot: slot !== null && slot >= 0 ? Math.floor(slot) : null,
			ask: parseAsk(item.ask),
			stoppable: item.stoppable === true,
		});
	});
	const sources: Source[] = (Array.isArray(data.sources) ? data.sources : []).filter(isObj).map((s) => ({
		name: text(s.name) ?? "",
		connection: text(s.connection) ?? "disconnected",
		state: text(s.state) ?? "idle",
		detail: text(s.detail),
		activeSessions: num(s.active_sessions),
		maxConcurrent: num(s.max_concurrent),
	}));
	const focus = isObj(data.focus) ? refOf(text(data.focus.source) ?? "", text(data.focus.key) ?? "") : null;
	return { global, look: parseLook(globalLook(data), global), sessions, sources, focus, gesture: parseGesture(data.answers) };
}
