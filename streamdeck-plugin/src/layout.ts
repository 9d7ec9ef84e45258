/**
 * What each of the plugin's keys shows, as pure functions of the status: a port of
 * devices/streamdeck/layout.py (global key, session key, page key, details cards, the
 * touch strip's summary), so a key here looks like the same key on agentlight's own deck.
 * Plus the looks only the plugin has: offline (no stream), and a key for a named control.
 */
import { type Ask, DELIBERATE, NEEDS_USER, type Look, type Session, type Status, urgency, words } from "./model.js";
import { type Face, face, inkOn, type RGB, scale, type Strip } from "./render/svg.js";
import { safe } from "./render/text.js";

/** Session fields a key can show, in the order they are drawn. */
export const SESSION_FIELDS = ["channel", "state", "title", "tool", "time", "tokens", "error"] as const;

const SHORT_STATE: Readonly<Record<string, string>> = {
	thinking: "Thinking",
	tool_running: "Tool",
	streaming: "Answering",
	waiting_for_user: "Waiting",
	error: "Error",
};
const CHANNELS: Readonly<Record<string, string>> = { websocket: "WEB", telegram: "TELEGRAM", whatsapp: "WHATSAPP" };
const PAGE_GREY: RGB = [70, 70, 70];
const OFFLINE_GREY: RGB = [90, 90, 90];

/** Time in a state, short, for a ticking timer (bridge.text.statusline.duration). */
export function duration(seconds: number): string {
	const s = Math.floor(Math.max(0, seconds));
	if (s < 60) return `${s}s`;
	if (s < 600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
	if (s < 3600) return `${Math.floor(s / 60)}m`;
	return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** A token count, short: 950, 12.3k, 4.1M. */
export function count(n: number): string {
	if (n < 1000) return String(n);
	if (n < 100_000) return `${(n / 1000).toFixed(1)}k`.replace(".0k", "k");
	if (n < 1_000_000) return `${Math.floor(n / 1000)}k`;
	return `${(n / 1_000_000).toFixed(1)}M`;
}

export function channelLabel(channel: string): string {
	const name = safe(channel).trim();
	if (!name) return "SESSION";
	return CHANNELS[name.toLowerCase()] ?? name.toUpperCase();
}

/** The key's big line: the theme's label when short, else a short state name. */
export function stateWord(s: Session): string {
	const label = safe(s.look.label);
	if (label && Array.from(label).length <= 10) return label;
	if (s.state === "tool_running" && s.tool) return safe(s.tool);
	if (s.state === "unknown" && s.rawState) return safe(s.rawState);
	return SHORT_STATE[s.state] ?? words(s.state);
}

function totalTokens(s: Session): number | null {
	if (s.tokens === null) return null;
	return s.tokens.input + s.tokens.output + s.tokens.reasoning;
}

/** Seconds `s` has been in its state at monotonic `nowMs`. */
export function secondsIn(s: Session, nowMs: number): number {
	return s.sinceMs === null ? 0 : Math.max(0, (nowMs - s.sinceMs) / 1000);
}

function footer(s: Session, nowMs: number): string {
	const spent = s.sinceMs !== null ? duration(secondsIn(s, nowMs)) : "";
	const total = totalTokens(s);
	if (!total) return spent;
	const tokens = count(total);
	if (!spent) return `${tokens} tok | ${tokens}`;
	return `${spent} · ${tokens} tok | ${spent} · ${tokens} | ${spent}`;
}

/** A session key: channel band, state, title/tool/error, time and tokens. */
export function sessionFace(s: Session, nowMs: number, blinkOn: boolean, note = ""): Face {
	const color = s.look.color;
	const word = stateWord(s);
	const lines: string[] = [];
	if (s.state === "error" && s.error) {
		// The error is the news; the title stays one press away (details).
		lines.push(safe(s.error));
	} else {
		if (s.title) lines.push(safe(s.title));
		if (s.tool && safe(s.tool) !== word) lines.push(safe(s.tool));
	}
	// A note about its request ("press to answer", "Allow sent") takes the time's place.
	const common = { header: channelLabel(s.channel), title: word, lines, footer: note ? safe(note) : footer(s, nowMs) };
	if (NEEDS_USER.has(s.state)) {
		// Stands out: full colour, alternating with a dark key in a coloured frame.
		if (blinkOn) return face("session", { ...common, bg: color, bar: scale(color, 0.55), fg: inkOn(color) });
		return face("session", { ...common, bg: scale(color, 0.15), bar: color, fg: [255, 255, 255], frame: color });
	}
	return face("session", { ...common, bg: scale(color, 0.38), bar: color });
}

/** A session's details as (label, text) cards, one per key. */
export function detailCards(s: Session, nowMs: number): [string, string][] {
	const cards: [string, string][] = [[channelLabel(s.channel), stateWord(s)]];
	if (s.title) cards.push(["TITLE", safe(s.title)]);
	if (s.tool) cards.push(["TOOL", safe(s.tool)]);
	if (s.error) cards.push(["ERROR", safe(s.error)]);
	if (s.tokens !== null) {
		let text = `in ${count(s.tokens.input)} out ${count(s.tokens.output)}`;
		if (s.tokens.reasoning) text += ` think ${count(s.tokens.reasoning)}`;
		cards.push(["TOKENS", text]);
	}
	if (s.sinceMs !== null) cards.push(["TIME", `${duration(secondsIn(s, nowMs))} | ${s.state.replace(/_/g, " ")}`]);
	cards.push(["SESSION", safe(s.key)]);
	return cards;
}

/** Card `index` of a session's details (details_faces), or null past the last card. */
export function detailsFace(s: Session, nowMs: number, index: number): Face | null {
	const cards = detailCards(s, nowMs);
	const card = cards[index];
	if (!card) return null;
	const color = s.look.color;
	if (index === 0) {
		return face("details", { bg: scale(color, 0.38), bar: color, header: card[0], title: card[1], footer: "DETAILS" });
	}
	// " | " splits a card into lines of its own (the time, then the state).
	const lines = card[1].split(" | ").filter((p) => p);
	return face("details", { bg: [18, 18, 18], bar: color, header: card[0], lines });
}

/** Whether every source is connected, and a word on the first that is not. */
function connection(status: Status): [boolean, string] {
	for (const source of status.sources) {
		if (source.connection !== "connected") {
			const why = source.detail ? safe(source.detail) : source.connection;
			return [false, why.replace(/_/g, " ")];
		}
	}
	return [true, ""];
}

/** Global states in which the bridge cannot see the agent. */
const BLIND: ReadonlySet<string> = new Set(["connecting", "disconnected", "auth_failed"]);

/** The global key: the agent's state, sessions active/max, the connection. */
export function globalFace(status: Status, note = ""): Face {
	const look: Look = status.look;
	const color = look.color;
	const [connected, why] = connection(status);
	let active = 0;
	let limit = 0;
	for (const source of status.sources) {
		if (source.connection === "connected") {
			active += source.activeSessions ?? 0;
			limit += source.maxConcurrent ?? 0;
		}
	}
	const lines: string[] = [];
	if (status.sessions.length || active) lines.push(limit ? `${active}/${limit} active` : `${active} active`);
	if (!connected) {
		// Say why, in words that tell "agentlight is fine, the agent is not" apart.
		lines.push(BLIND.has(status.global) ? `cannot see the agent (${why})` : why);
	}
	const label = safe(look.label) || words(status.global);
	const attention = status.global === "auth_failed" || status.global === "degraded";
	return face("global", {
		bg: scale(color, 0.3 + 0.3 * look.brightness),
		bar: color,
		header: "AGENT",
		title: label,
		lines,
		footer: note,
		frame: attention ? color : null,
		marker: connected ? "dot" : "ring",
	});
}

/** Why the plugin has no status, for the Agent key. */
export type Offline = "not running" | "token refused" | "connecting" | "lost" | "bad url";

const OFFLINE_TEXT: Readonly<Record<Offline, string>> = {
	"not running": "agentlight not running",
	"token refused": "token refused",
	connecting: "connecting to agentlight",
	lost: "agentlight not running",
	"bad url": "check the URL in the settings",
};

/**
 * The Agent key while the plugin has no stream: grey (no theme to draw with, and never a
 * state older than the stream), a ring for "not connected", and why in words.
 */
export function offlineGlobalFace(why: Offline, detail = ""): Face {
	const lines = [OFFLINE_TEXT[why], ...(detail ? [safe(detail)] : [])];
	const refused = why === "token refused";
	return face("global", {
		bg: [28, 28, 28],
		bar: OFFLINE_GREY,
		header: "AGENT",
		title: "Offline",
		lines,
		frame: refused ? [200, 0, 200] : null,
		marker: "ring",
	});
}

/** A session key while the plugin has no stream: no stale state, just "offline". */
export function offlineSessionFace(label: string): Face {
	return face("session", { bg: [20, 20, 20], bar: [50, 50, 50], header: label, title: "Offline", fg: [150, 150, 150] });
}

/** The page key; it lights up when a session on another page needs you. */
export function pageFace(page: number, pages: number, hidden: readonly Session[], blinkOn: boolean, prev = false): Face {
	const urgent = hidden.filter((s) => NEEDS_USER.has(s.state));
	const marker = prev ? "prev" : "next";
	const title = `${page + 1}/${pages}`;
	if (urgent.length) {
		const color = urgent[0].look.color;
		const lines = [`${urgent.length} need you`];
		if (blinkOn) return face("page", { bg: color, bar: scale(color, 0.55), header: "MORE", title, lines, fg: inkOn(color), marker });
		return face("page", { bg: scale(color, 0.18), bar: color, header: "MORE", title, lines, frame: color, marker });
	}
	const lines = hidden.length ? [`+${hidden.length} more`] : [];
	return face("page", { bg: [24, 24, 24], bar: PAGE_GREY, header: "MORE", title, lines, marker });
}

/** A key for any other named control: its name, in the page key's grey. */
export function controlFace(name: string): Face {
	return face("page", { bg: [24, 24, 24], bar: PAGE_GREY, header: "CONTROL", title: safe(name) || "none" });
}

/** The most urgent session: the one agentlight puts in focus, else by state (ties: the lower slot). */
export function mostUrgent(status: Status, slots: ReadonlyMap<string, number>): Session | null {
	const sessions = status.sessions;
	if (status.focus !== null) {
		const focus = sessions.find((s) => s.ref === status.focus);
		if (focus) return focus;
	}
	let best: Session | null = null;
	for (const s of sessions) {
		if (
			best === null ||
			urgency(s.state) < urgency(best.state) ||
			(urgency(s.state) === urgency(best.state) && (slots.get(s.ref) ?? 1e9) < (slots.get(best.ref) ?? 1e9))
		) {
			best = s;
		}
	}
	return best;
}

/** The summary line for a wide screen (strip_for). */
export function stripFor(status: Status, slots: ReadonlyMap<string, number>, nowMs: number): Strip {
	const sessions = status.sessions;
	const label = safe(status.look.label) || status.global;
	const waiting = sessions.filter((s) => s.state === "waiting_for_user").length;
	const errors = sessions.filter((s) => s.state === "error").length;
	const parts = [label, `${sessions.length} session${sessions.length !== 1 ? "s" : ""}`];
	if (waiting) parts.push(`${waiting} waiting`);
	if (errors) parts.push(`${errors} error${errors !== 1 ? "s" : ""}`);
	const [connected, why] = connection(status);
	if (!connected) parts.push(why);
	let detail = "";
	const urgent = mostUrgent(status, slots);
	if (urgent !== null) {
		const bits = [channelLabel(urgent.channel), urgent.title ? safe(urgent.title) : "", stateWord(urgent)];
		if (urgent.sinceMs !== null) bits.push(duration(secondsIn(urgent, nowMs)));
		detail = bits.filter((b) => b).join(" ");
	}
	const dots = [...sessions]
		.sort((a, b) => (slots.get(a.ref) ?? 1e9) - (slots.get(b.ref) ?? 1e9))
		.map((s) => s.look.color);
	return { color: status.look.color, line: parts.join(" · "), detail, dots };
}

/** The strip while the plugin has no stream. */
export function offlineStrip(why: Offline): Strip {
	return { color: OFFLINE_GREY, line: "Offline", detail: OFFLINE_TEXT[why], dots: [] };
}

/**
 * Stable slots (bridge/pipeline/slots.py's SlotMap with no size): a session keeps its slot
 * while it lives; a new one takes the lowest free slot. Used when the API gives no slots.
 */
export class SlotMap {
	private slots = new Map<string, number>();

	assign(refs: readonly string[]): ReadonlyMap<string, number> {
		const alive = new Set(refs);
		const kept = new Map([...this.slots].filter(([ref]) => alive.has(ref)));
		const used = new Set(kept.values());
		let free = 0;
		for (const ref of refs) {
			if (kept.has(ref)) continue;
			while (used.has(free)) free += 1;
			kept.set(ref, free);
			used.add(free);
		}
		this.slots = kept;
		return kept;
	}
}

// -- requests: a key per choice (layout.py's page_choices, detail_choices, choice_face) --

/** Choice keys: what each kind of answer looks like. */
const CHOICE_BG: Readonly<Record<string, RGB>> = {
	allow: [0, 130, 60],
	always: [0, 100, 90],
	deny: [150, 25, 25],
	answer: [25, 70, 150],
	dismiss: [55, 55, 55],
	stop: [170, 80, 0],
};
export const DANGER: RGB = [255, 45, 0];
const LOCKED: RGB = [70, 70, 70];
export const ARMED: RGB = [255, 255, 255];

/** A deliberate choice this plugin's key is in the middle of: held (with its progress), or awaiting a second press. */
export interface Arming {
	readonly ref: string;
	readonly ask: string;
	readonly action: string;
	readonly held: boolean;
	/** 0 to 1, in steps (a new image per step, not per frame). */
	readonly progress: number;
}

/** What a press on a choice key names: the session, the action, and the request it was drawn for. */
export interface ChoiceRole {
	readonly session: Session;
	readonly action: string;
	/** The request's id ("" for a stop). */
	readonly ask: string;
	readonly deliberate: boolean;
}

/** A face, and what a press on it means (null: a card, not a choice). */
export type Placed = readonly [Face, ChoiceRole | null];

/** A request no device can answer: where to answer it. */
export function whereFace(ask: Ask): Face {
	return face("choice", { bg: [20, 20, 20], bar: LOCKED, header: "ANSWER", lines: [safe(ask.where)], fg: [200, 200, 200] });
}

/**
 * One choice of the session's request (`index`), or its Stop key (`index` -1): coloured by
 * kind, in the danger colour with why for a dangerous approval, "keyboard" where the rules
 * lock approvals, a bar while held, a white frame while a second press is awaited.
 */
export function choiceFace(s: Session, index: number, arming: Arming | null = null): Face {
	const ask = index < 0 ? null : s.ask;
	const choice = ask === null ? null : ask.choices[index];
	const action = choice?.id ?? "stop";
	const kind = choice?.kind ?? "stop";
	const label = choice ? safe(choice.label) : "Stop";
	const deliberate = DELIBERATE.has(kind);
	if (deliberate && ask !== null && ask.locked) {
		return face("choice", { bg: [22, 22, 22], bar: LOCKED, header: "KEYBOARD", title: label, lines: [safe(ask.locked)], fg: [150, 150, 150] });
	}
	const bg = CHOICE_BG[kind] ?? CHOICE_BG.answer;
	const danger = ask !== null && !!ask.danger;
	let header = "ANSWER";
	if (ask === null) header = "STOP RUN";
	else if (danger && deliberate) header = "DANGER";
	else if (ask.tool) header = safe(ask.tool).toUpperCase();
	let footer = deliberate ? "hold | press 2x | 2x" : "";
	let frame: RGB | null = danger && deliberate ? DANGER : null;
	let progress: number | null = null;
	const askId = ask?.id ?? "";
	if (arming !== null && arming.ref === s.ref && arming.ask === askId && arming.action === action) {
		if (arming.held) {
			progress = arming.progress;
			footer = progress >= 1 ? "release" : "hold...";
		} else {
			footer = "press again";
			frame = ARMED;
		}
	}
	return face("choice", {
		bg,
		bar: danger ? DANGER : scale(bg, 1.6),
		header,
		title: label,
		lines: danger && deliberate && ask !== null ? [safe(ask.danger)] : [],
		footer,
		fg: inkOn(bg),
		frame,
		progress,
	});
}

function role(s: Session, action: string, deliberate: boolean): ChoiceRole {
	return { session: s, action, ask: action === "stop" ? "" : (s.ask?.id ?? ""), deliberate };
}

/** The keys a waiting session gets on free keys of its page: one per choice ("Later" only in its details), or where to answer. */
export function pageChoices(s: Session, arming: Arming | null = null): Placed[] {
	const ask = s.ask;
	if (ask === null) return [];
	if (ask.where || ask.choices.length === 0) return ask.where ? [[whereFace(ask), null]] : [];
	const out: Placed[] = [];
	ask.choices.forEach((c, i) => {
		if (c.kind !== "dismiss") out.push([choiceFace(s, i, arming), role(s, c.id, DELIBERATE.has(c.kind))]);
	});
	return out;
}

/** A session's request in its details: the request's card, every choice, "Later", Stop. */
export function detailChoices(s: Session, arming: Arming | null = null): Placed[] {
	const out: Placed[] = [];
	const ask = s.ask;
	if (ask !== null) {
		const color = s.look.color;
		const header = ask.tool ? safe(ask.tool).toUpperCase() : ask.kind.toUpperCase();
		const text = ask.command ? safe(ask.command) : safe(ask.text);
		out.push([face("details", { bg: scale(color, 0.38), bar: color, header, lines: [text] }), null]);
		if (!ask.where && ask.choices.length > 0) {
			out.push(...pageChoices(s, arming));
			const later = face("choice", { bg: [30, 30, 30], bar: CHOICE_BG.dismiss, header: "NOT HERE", title: "Later" });
			out.push([later, role(s, "dismiss", false)]);
		} else if (ask.where) {
			out.push([whereFace(ask), null]);
		}
	}
	if (s.stoppable) out.push([choiceFace(s, -1, arming), role(s, "stop", true)]);
	return out;
}

/**
 * The session a Control key named after an answer (allow, deny, answer:2, stop…) answers:
 * the one in focus when it can take that answer, else the most urgent that can.
 */
export function answerTarget(status: Status, slots: ReadonlyMap<string, number>, action: string): Session | null {
	const can = (s: Session): boolean =>
		action === "stop" ? s.stoppable : s.ask !== null && !s.ask.where && s.ask.choices.some((c) => c.id === action);
	const candidates = status.sessions.filter(can);
	if (candidates.length === 0) return null;
	const focus = candidates.find((s) => s.ref === status.focus);
	if (focus) return focus;
	return [...candidates].sort(
		(a, b) => urgency(a.state) - urgency(b.state) || (slots.get(a.ref) ?? 1e9) - (slots.get(b.ref) ?? 1e9),
	)[0];
}

/** Actions a Control key may name that answer a request or stop a run. */
export function isAnswerAction(name: string): boolean {
	return name === "stop" || name === "allow" || name === "always" || name === "deny" || name === "dismiss" || /^answer:[0-9]+$/.test(name);
}

/** A Control key named after an answer while no request takes it: dim, saying so. */
export function idleAnswerFace(name: string): Face {
	const kind = name.startsWith("answer:") ? "answer" : name;
	const bar = scale(CHOICE_BG[kind] ?? PAGE_GREY, 0.8);
	const title = name === "stop" ? "Stop" : name.startsWith("answer:") ? `Option ${name.slice(7)}` : words(name);
	return face("choice", { bg: [18, 18, 18], bar, header: name === "stop" ? "STOP RUN" : "ANSWER", title, lines: ["nothing waiting"], fg: [150, 150, 150] });
}
