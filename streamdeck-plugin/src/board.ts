/**
 * The plugin's keys as one board: which instance of which action shows what, from the
 * link's state. Knows nothing of the Stream Deck SDK (the actions in actions.ts adapt it),
 * so it is tested with plain objects and a fake clock.
 *
 * Per device (a deck), like agentlight's own driver: Session keys by slot page together
 * (page_next/page_prev controls, a dial), and a press on a session opens its details
 * across that deck's Session keys for a few seconds.
 *
 * A session waiting on a request (its `ask`) gets a key per choice, as on agentlight's own
 * deck: on the empty Session keys of its page (Allow, Deny, an option each), and in its
 * details (the request, every choice, Later, Stop). A Control key named after an answer
 * (allow, deny, always, answer:2, dismiss, stop) draws that choice of the request it would
 * answer. A press names the request it was drawn for, so it never answers a newer one; an
 * Allow or a Stop shows its gesture's progress (a bar while held, a frame while a second
 * press is awaited), while agentlight, which measures the gesture, decides.
 */
import type { LinkState } from "./api/link.js";
import {
	type Arming,
	answerTarget,
	type ChoiceRole,
	choiceFace,
	controlFace,
	detailChoices,
	idleAnswerFace,
	isAnswerAction,
	pageChoices,
	type Placed,
	detailsFace,
	globalFace,
	mostUrgent,
	offlineGlobalFace,
	offlineSessionFace,
	offlineStrip,
	pageFace,
	sessionFace,
	SlotMap,
	stripFor,
} from "./layout.js";
import { DEFAULT_GESTURE, type Gesture, NEEDS_USER, type Session, type Status } from "./model.js";
import { type Clock, Painter, realClock, type Want } from "./painter.js";
import { BLANK, dataUrl, type Face, renderKey, renderStrip, type Strip } from "./render/svg.js";

export type Role = "agent" | "session" | "control";
export type Controller = "Keypad" | "Encoder";

export interface SessionSettings {
	/** 1, 2, …: the session in that slot; "urgent": the most urgent session. */
	slot?: number | string;
}
export interface ControlSettings {
	/** page_next, page_prev, details, or any name, which goes to agentlight's sources. */
	control?: string;
}
export type Settings = SessionSettings & ControlSettings;

/** What an instance can do on the app's side (an action's key or dial). */
export interface Surface {
	setImage(image: string): void;
	setFeedback(strip: string): void;
	showAlert(): void;
}

export interface Instance {
	readonly id: string;
	readonly role: Role;
	readonly device: string;
	readonly controller: Controller;
	readonly row: number;
	readonly column: number;
	/** The key's number on its deck (row by row), as agentlight's own driver names keys. */
	readonly index: number;
	settings: Settings;
	readonly surface: Surface;
	readonly painter: Painter;
}

/** A press for POST /v1/input (see api/input.ts for the document sent). */
export interface Press {
	readonly kind: "global" | "session" | "control";
	readonly name: string;
	readonly session: Session | null;
	/** The hardware control, e.g. key:3 or dial:0:cw, for sources that care. */
	readonly control: string;
	/** False for the release that ends a press (a hold is measured between the two). */
	readonly pressed: boolean;
	/** The id of the request an answer was drawn for (the session's ask.id). */
	readonly ask?: string;
}

/** A deliberate choice pressed on one of this deck's keys: held, or waiting for a second press. */
interface Armed {
	readonly id: string;
	readonly role: ChoiceRole;
	readonly pressedAt: number;
	held: boolean;
	/** A second press before this (ms) confirms. */
	readonly until: number;
}

interface DeckState {
	page: number;
	details: { ref: string; untilMs: number } | null;
	armed: Armed | null;
}

/** A bounce, or a fumbled double hit, is not a confirmation (answers.py's _BOUNCE). */
const BOUNCE_MS = 150;
/** A press whose release never comes is forgotten (answers.py's _HELD_AT_MOST). */
const HELD_AT_MOST_MS = 60_000;
/** A hold's bar moves in this many steps. */
const STEPS = 5;

export const DETAILS_MS = 5000;

/** Images kept by content: every key's current pair and recent ones (a few MB at most). */
const cacheLimit = 128;

export class Board {
	private readonly instances = new Map<string, Instance>();
	private readonly decks = new Map<string, DeckState>();
	private readonly slotMap = new SlotMap();
	private slots: ReadonlyMap<string, number> = new Map();
	private state: LinkState = { kind: "offline", why: "connecting", detail: "" };
	private tick: unknown = null;
	private readonly images = new Map<string, string>();
	/** Presses sent for keys still down: their release goes to the same target. */
	private readonly down = new Map<string, Press>();
	/** Presses and releases go out one after another, so a release never overtakes its press. */
	private queue: Promise<unknown> = Promise.resolve();
	/** What a press on each key means, as last drawn: a choice of a request, or nothing special. */
	private roles = new Map<string, ChoiceRole>();
	/** Per deck, what each Session key shows of a request, and notes for session keys (by ref). */
	private plans = new Map<string, { keys: Map<string, Placed>; notes: Map<string, string> }>();

	constructor(
		private readonly onPress: (press: Press) => Promise<boolean>,
		private readonly onRetry: () => void = () => undefined,
		private readonly clock: Clock = realClock,
	) {}

	// -- instances --------------------------------------------------------

	appear(inst: Omit<Instance, "painter">): Instance {
		const send = inst.controller === "Encoder" ? (img: string) => inst.surface.setFeedback(img) : (img: string) => inst.surface.setImage(img);
		const full: Instance = { ...inst, painter: new Painter(send, this.clock) };
		this.instances.get(inst.id)?.painter.close();
		this.instances.set(inst.id, full);
		this.refresh();
		return full;
	}

	disappear(id: string): void {
		this.instances.get(id)?.painter.close();
		this.instances.delete(id);
		this.refresh();
	}

	configure(id: string, settings: Settings): void {
		const inst = this.instances.get(id);
		if (!inst) return;
		inst.settings = settings;
		this.refresh();
	}

	get size(): number {
		return this.instances.size;
	}

	// -- the link ---------------------------------------------------------

	setState(state: LinkState): void {
		this.state = state;
		if (state.kind === "live") {
			const given = state.status.sessions.every((s) => s.slot !== null);
			this.slots = given
				? new Map(state.status.sessions.map((s) => [s.ref, s.slot as number]))
				: this.slotMap.assign(state.status.sessions.map((s) => s.ref));
		}
		this.refresh();
	}

	// -- presses ----------------------------------------------------------

	/** A key or dial pressed; resolves when agentlight took it (or could not). */
	async press(id: string): Promise<void> {
		const inst = this.instances.get(id);
		if (!inst) return;
		const control = inst.controller === "Encoder" ? `dial:${inst.column}` : `key:${inst.index}`;
		if (this.state.kind !== "live") {
			if (inst.role === "agent") this.onRetry();
			inst.surface.showAlert();
			return;
		}
		const status = this.state.status;
		const deck = this.deck(inst.device);
		const now = this.clock.now();
		let press: Press | null = null;
		const choice = this.roles.get(id);
		if (choice !== undefined) {
			press = this.choose(inst, deck, choice, control, now);
		} else if (inst.role === "control" && isAnswerAction(inst.settings.control ?? "")) {
			// Named after an answer, with no request that takes it: nothing to send.
			inst.surface.showAlert();
			return;
		} else if (inst.role === "agent") {
			if (inst.controller === "Encoder") {
				// The dial: details of the most urgent session on this deck's Session keys.
				const urgent = mostUrgent(status, this.slots);
				if (urgent) {
					this.toggleDetails(deck, urgent, now);
					press = { kind: "session", name: "details", session: urgent, control, pressed: true };
				}
			} else {
				press = { kind: "global", name: "", session: null, control, pressed: true };
			}
		} else if (inst.role === "session") {
			const open = this.openDetails(deck, status, now);
			const session = open ?? this.sessionFor(inst, status, deck);
			if (session === null) return;
			// A press on any key of open details closes them, as on agentlight's own deck.
			this.toggleDetails(deck, session, now);
			press = { kind: "session", name: "details", session, control, pressed: true };
		} else {
			const name = inst.settings.control || "page_next";
			if (name === "page_next" || name === "page_prev") {
				this.turn(inst.device, name === "page_next" ? 1 : -1);
				return;
			}
			if (name === "details") {
				const urgent = mostUrgent(status, this.slots);
				if (urgent === null) return;
				this.toggleDetails(deck, urgent, now);
				press = { kind: "session", name: "details", session: urgent, control, pressed: true };
			} else {
				const focus = mostUrgent(status, this.slots);
				press = { kind: "control", name, session: focus, control, pressed: true };
			}
		}
		this.refresh();
		if (press === null) return;
		this.down.set(id, press);
		if (!(await this.send(press))) inst.surface.showAlert();
	}

	/** A press on a choice key: its answer, for the request it was drawn for; a deliberate one arms. */
	private choose(inst: Instance, deck: DeckState, role: ChoiceRole, control: string, now: number): Press {
		if (role.deliberate) {
			const a = deck.armed;
			const confirms =
				a !== null &&
				!a.held &&
				a.role.session.ref === role.session.ref &&
				a.role.ask === role.ask &&
				a.role.action === role.action &&
				now - a.pressedAt >= BOUNCE_MS &&
				now <= a.until;
			// A second press confirms (agentlight decides); any other starts a hold.
			deck.armed = confirms ? null : { id: inst.id, role, pressedAt: now, held: true, until: now + this.gesture().confirmWithin * 1000 };
		}
		const press: Press = { kind: "session", name: role.action, session: role.session, control, pressed: true };
		return role.ask ? { ...press, ask: role.ask } : press;
	}

	private gesture(): Gesture {
		return this.state.kind === "live" ? this.state.status.gesture : DEFAULT_GESTURE;
	}

	private send(press: Press): Promise<boolean> {
		const sent = this.queue.then(() => this.onPress(press));
		this.queue = sent.catch(() => false);
		return sent;
	}

	/**
	 * A key or dial released: the release of what its press sent, so agentlight sees the
	 * whole gesture, as from its own deck (an answer that must be held is a press, then a
	 * release at least its hold time later). Nothing when its press sent nothing.
	 */
	async release(id: string): Promise<void> {
		const press = this.down.get(id);
		if (press === undefined) return;
		this.down.delete(id);
		const inst = this.instances.get(id);
		const deck = inst ? this.deck(inst.device) : null;
		const armed = deck?.armed ?? null;
		if (deck && armed !== null && armed.id === id && armed.held) {
			// Held long enough: agentlight decides on this release; else a second press may confirm.
			if (this.clock.now() - armed.pressedAt >= this.gesture().hold * 1000 - 1) deck.armed = null;
			else armed.held = false;
			this.refresh();
		}
		if (this.state.kind !== "live") return;
		await this.send({ ...press, pressed: false });
	}

	/** A dial turned: pages this deck's Session keys (cw: next). */
	rotate(id: string, ticks: number): void {
		const inst = this.instances.get(id);
		if (!inst || ticks === 0) return;
		this.turn(inst.device, ticks > 0 ? 1 : -1);
	}

	private turn(device: string, step: number): void {
		const deck = this.deck(device);
		const pages = this.pages(device);
		deck.page = (((deck.page + step) % pages) + pages) % pages;
		this.refresh();
	}

	private toggleDetails(deck: DeckState, session: Session, now: number): void {
		if (deck.details !== null && deck.details.ref === session.ref) deck.details = null;
		else deck.details = { ref: session.ref, untilMs: now + DETAILS_MS };
	}

	private deck(device: string): DeckState {
		let deck = this.decks.get(device);
		if (!deck) {
			deck = { page: 0, details: null, armed: null };
			this.decks.set(device, deck);
		}
		return deck;
	}

	// -- what each key shows ------------------------------------------------

	private sessionKeys(device: string): Instance[] {
		return [...this.instances.values()]
			.filter((i) => i.device === device && i.role === "session" && i.controller === "Keypad")
			.sort((a, b) => a.row - b.row || a.column - b.column);
	}

	/** Slots one page of this deck shows: its highest Session slot. */
	private perPage(device: string): number {
		let most = 0;
		for (const inst of this.sessionKeys(device)) {
			const slot = slotSetting(inst.settings);
			if (slot !== null) most = Math.max(most, slot);
		}
		return Math.max(1, most);
	}

	private pages(device: string): number {
		const needed = Math.max(-1, ...this.slots.values()) + 1;
		return Math.max(1, Math.ceil(needed / this.perPage(device)));
	}

	private sessionFor(inst: Instance, status: Status, deck: DeckState): Session | null {
		const slot = slotSetting(inst.settings);
		if (slot === null) return mostUrgent(status, this.slots);
		const wanted = slot - 1 + deck.page * this.perPage(inst.device);
		return status.sessions.find((s) => this.slots.get(s.ref) === wanted) ?? null;
	}

	private openDetails(deck: DeckState, status: Status, now: number): Session | null {
		if (deck.details === null) return null;
		const ref = deck.details.ref;
		const session = status.sessions.find((s) => s.ref === ref) ?? null;
		if (session === null || now >= deck.details.untilMs) deck.details = null;
		return deck.details === null ? null : session;
	}

	private image(what: Face | Strip, strip: boolean): string {
		const key = JSON.stringify(what);
		let url = this.images.get(key);
		if (url === undefined) {
			url = dataUrl(strip ? renderStrip(what as Strip) : renderKey(what as Face));
			if (this.images.size >= cacheLimit) this.images.delete(this.images.keys().next().value as string);
		} else {
			this.images.delete(key); // most recently used last
		}
		this.images.set(key, url);
		return url;
	}

	private one(f: Face): Want {
		return { images: [this.image(f, false)], phaseMs: 0 };
	}

	private blinking(on: Face, off: Face, periodS: number): Want {
		if (JSON.stringify(on) === JSON.stringify(off)) return this.one(on);
		return { images: [this.image(on, false), this.image(off, false)], phaseMs: (periodS * 1000) / 2 };
	}

	private want(inst: Instance, now: number, timed: Set<Session>): Want {
		const state = this.state;
		if (inst.controller === "Encoder") {
			if (state.kind !== "live") return { images: [this.image(offlineStrip(state.why), true)], phaseMs: 0 };
			state.status.sessions.forEach((s) => timed.add(s));
			return { images: [this.image(stripFor(state.status, this.slots, now), true)], phaseMs: 0 };
		}
		if (inst.role === "agent") {
			if (state.kind !== "live") return this.one(offlineGlobalFace(state.why, state.detail));
			return this.one(globalFace(state.status));
		}
		if (inst.role === "session") {
			const slot = slotSetting(inst.settings);
			const label = slot === null ? "URGENT" : `SLOT ${slot}`;
			if (state.kind !== "live") return this.one(offlineSessionFace(label));
			const deck = this.deck(inst.device);
			const open = this.openDetails(deck, state.status, now);
			const plan = this.plans.get(inst.device);
			const placed = plan?.keys.get(inst.id);
			if (open !== null) {
				timed.add(open);
				if (placed !== undefined) return this.one(placed[0]);
				const index = this.sessionKeys(inst.device).findIndex((i) => i.id === inst.id);
				return this.one(detailsFace(open, now, index) ?? BLANK);
			}
			if (placed !== undefined) return this.one(placed[0]);
			const session = this.sessionFor(inst, state.status, deck);
			if (session === null) return this.one(BLANK); // an empty slot is black, as on agentlight's own deck
			const note = plan?.notes.get(session.ref) ?? "";
			if (!note) timed.add(session);
			if (NEEDS_USER.has(session.state)) {
				return this.blinking(sessionFace(session, now, true, note), sessionFace(session, now, false, note), session.look.period);
			}
			return this.one(sessionFace(session, now, true, note));
		}
		const name = inst.settings.control || "page_next";
		if (name === "page_next" || name === "page_prev") {
			const deck = this.deck(inst.device);
			const pages = this.pages(inst.device);
			deck.page = Math.min(deck.page, pages - 1);
			const prev = name === "page_prev";
			if (state.kind !== "live") return this.one(pageFace(0, 1, [], true, prev));
			const per = this.perPage(inst.device);
			const lo = deck.page * per;
			const hidden = state.status.sessions.filter((s) => {
				const slot = this.slots.get(s.ref) ?? -1;
				return slot < lo || slot >= lo + per;
			});
			const urgent = hidden.find((s) => NEEDS_USER.has(s.state));
			const period = urgent ? urgent.look.period : 1;
			return this.blinking(pageFace(deck.page, pages, hidden, true, prev), pageFace(deck.page, pages, hidden, false, prev), period);
		}
		if (isAnswerAction(name)) {
			if (state.kind !== "live") return this.one(idleAnswerFace(name));
			const target = answerTarget(state.status, this.slots, name);
			if (target === null) return this.one(idleAnswerFace(name));
			const index = name === "stop" ? -1 : (target.ask?.choices.findIndex((c) => c.id === name) ?? -1);
			const deliberate = name === "stop" || name === "allow" || name === "always";
			this.roles.set(inst.id, { session: target, action: name, ask: name === "stop" ? "" : (target.ask?.id ?? ""), deliberate });
			return this.one(choiceFace(target, index, this.arming(inst.device, now)));
		}
		return this.one(controlFace(name));
	}

	/** This deck's armed choice as keys draw it, once what is over is dropped. */
	private arming(device: string, now: number): Arming | null {
		const deck = this.deck(device);
		const a = deck.armed;
		if (a === null) return null;
		const open = this.state.kind === "live" ? this.state.status.sessions.find((s) => s.ref === a.role.session.ref) : undefined;
		const still = open !== undefined && (a.role.ask ? open.ask?.id === a.role.ask : open.stoppable);
		if (!still || (a.held && now - a.pressedAt >= HELD_AT_MOST_MS) || (!a.held && now > a.until)) {
			deck.armed = null;
			return null;
		}
		const hold = this.gesture().hold * 1000;
		// Steps of a fifth: a new image per step, not per frame, so a hold's 6 images stay
		// within the painter's 10 a second (tenths would make 11 in 0.6 s, the last one late).
		const progress = a.held ? Math.min(1, Math.floor(((now - a.pressedAt) / hold) * STEPS + 1e-9) / STEPS) : 0;
		return { ref: a.role.session.ref, ask: a.role.ask, action: a.role.action, held: a.held, progress };
	}

	/**
	 * Where this deck's requests go (layout.py's layout): in open details, the request and its
	 * choices first on the Session keys; on a page, each waiting session's choices on the
	 * empty Session keys, in slot order, when they all fit (else its key says "press to answer").
	 */
	private plan(device: string, status: Status, now: number): void {
		const keys = new Map<string, Placed>();
		const notes = new Map<string, string>();
		this.plans.set(device, { keys, notes });
		const deck = this.deck(device);
		const arming = this.arming(device, now);
		const sessionKeys = this.sessionKeys(device);
		const open = this.openDetails(deck, status, now);
		if (open !== null) {
			const choices = detailChoices(open, arming);
			if (choices.length === 0) return;
			const cards = sessionKeys.map((_, i) => detailsFace(open, now, i)).filter((f): f is Face => f !== null);
			const all: Placed[] = [...choices, ...cards.slice(1).map((f): Placed => [f, null])];
			sessionKeys.forEach((inst, i) => keys.set(inst.id, all[i] ?? [BLANK, null]));
		} else {
			let free = sessionKeys.filter((i) => slotSetting(i.settings) !== null && this.sessionFor(i, status, deck) === null);
			const shown = sessionKeys
				.map((i) => this.sessionFor(i, status, deck))
				.filter((s, i, all): s is Session => s !== null && all.indexOf(s) === i)
				.sort((a, b) => (this.slots.get(a.ref) ?? 1e9) - (this.slots.get(b.ref) ?? 1e9));
			for (const s of shown) {
				const wanted = pageChoices(s, arming);
				if (wanted.length === 0) continue;
				if (wanted.length <= free.length) {
					free.slice(0, wanted.length).forEach((inst, i) => keys.set(inst.id, wanted[i]));
					free = free.slice(wanted.length);
				} else {
					notes.set(s.ref, "press to answer");
				}
			}
		}
		for (const [id, [, role]] of keys) if (role !== null) this.roles.set(id, role);
	}

	/** Recompute every key; painters send only what changed. */
	refresh(): void {
		const now = this.clock.now();
		const timed = new Set<Session>();
		this.roles = new Map();
		this.plans = new Map();
		if (this.state.kind === "live") {
			const devices = new Set([...this.instances.values()].map((i) => i.device));
			for (const device of devices) this.plan(device, this.state.status, now);
		}
		for (const inst of this.instances.values()) inst.painter.set(this.want(inst, now, timed));
		this.schedule(now, timed);
	}

	/**
	 * Wake when a shown clock next changes its second (or open details close): a key that
	 * shows no time makes no timer, so a board with nothing moving sends nothing.
	 */
	private schedule(now: number, timed: Set<Session>): void {
		if (this.tick !== null) this.clock.clearTimeout(this.tick);
		this.tick = null;
		let next = Infinity;
		for (const s of timed) {
			if (s.sinceMs === null) continue;
			const into = (now - s.sinceMs) % 1000;
			next = Math.min(next, 1000 - (into < 0 ? into + 1000 : into));
		}
		for (const deck of this.decks.values()) {
			if (deck.details !== null) next = Math.min(next, Math.max(0, deck.details.untilMs - now));
			const a = deck.armed;
			if (a !== null) {
				const hold = this.gesture().hold * 1000;
				const into = now - a.pressedAt;
				// A hold's bar moves in tenths until full; a wait for a second press ends at `until`.
				if (a.held && into < hold) next = Math.min(next, Math.max(0, Math.ceil(((Math.floor((into / hold) * STEPS) + 1) * hold) / STEPS - into)));
				else if (!a.held) next = Math.min(next, Math.max(0, a.until - now));
			}
		}
		if (next === Infinity) return;
		this.tick = this.clock.setTimeout(() => {
			this.tick = null;
			this.refresh();
		}, next + 2);
	}

	close(): void {
		if (this.tick !== null) this.clock.clearTimeout(this.tick);
		for (const inst of this.instances.values()) inst.painter.close();
	}
}

/** A Session key's slot setting: 1, 2, … or null for "the most urgent session". */
export function slotSetting(settings: Settings): number | null {
	const raw = settings.slot;
	if (raw === undefined || raw === "urgent" || raw === "") return null;
	const n = typeof raw === "number" ? raw : Number.parseInt(String(raw), 10);
	return Number.isInteger(n) && n >= 1 ? n : 1;
}
