/**
 * The plugin's keys as one board: which instance of which action shows what, from the
 * link's state. Knows nothing of the Stream Deck SDK (the actions in actions.ts adapt it),
 * so it is tested with plain objects and a fake clock.
 *
 * Per device (a deck), like agentlight's own driver: Session keys by slot page together
 * (page_next/page_prev controls, a dial), and a press on a session opens its details
 * across that deck's Session keys for a few seconds.
 */
import type { LinkState } from "./api/link.js";
import {
	controlFace,
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
import { NEEDS_USER, type Session, type Status } from "./model.js";
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
}

interface DeckState {
	page: number;
	details: { ref: string; untilMs: number } | null;
}

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
		if (inst.role === "agent") {
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
			deck = { page: 0, details: null };
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
			if (open !== null) {
				timed.add(open);
				const index = this.sessionKeys(inst.device).findIndex((i) => i.id === inst.id);
				return this.one(detailsFace(open, now, index) ?? BLANK);
			}
			const session = this.sessionFor(inst, state.status, deck);
			if (session === null) return this.one(BLANK); // an empty slot is black, as on agentlight's own deck
			timed.add(session);
			if (NEEDS_USER.has(session.state)) {
				return this.blinking(sessionFace(session, now, true), sessionFace(session, now, false), session.look.period);
			}
			return this.one(sessionFace(session, now, true));
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
		return this.one(controlFace(name));
	}

	/** Recompute every key; painters send only what changed. */
	refresh(): void {
		const now = this.clock.now();
		const timed = new Set<Session>();
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
