/**
 * The actions a user drags onto keys and dials, as Elgato's SDK wants them; each hands its
 * events to the one Board, which decides what every key shows.
 */
import streamDeck, {
	action,
	type DialAction,
	type DialDownEvent,
	type DialUpEvent,
	type DialRotateEvent,
	type DidReceiveSettingsEvent,
	type KeyAction,
	type KeyDownEvent,
	type KeyUpEvent,
	type SendToPluginEvent,
	SingletonAction,
	type TouchTapEvent,
	type WillAppearEvent,
	type WillDisappearEvent,
} from "@elgato/streamdeck";
import type { Board, Role, Settings, Surface } from "./board.js";
import type { JsonObject, JsonValue } from "./json.js";

export const PLUGIN_UUID = "com.agentlight.agent";
/** The item of layouts/summary.json that shows the summary line. */
export const STRIP_ITEM = "strip";

function surfaceOf(act: KeyAction<JsonObject> | DialAction<JsonObject>): Surface {
	// Failures to send (the app closed the socket) are the SDK's to log; a key never throws here.
	const quiet = (p: Promise<void>): void => void p.catch(() => undefined);
	return {
		setImage: (image) => {
			if (act.isKey()) quiet(act.setImage(image));
		},
		setFeedback: (strip) => {
			if (act.isDial()) quiet(act.setFeedback({ [STRIP_ITEM]: strip }));
		},
		showAlert: () => quiet(act.showAlert()),
	};
}

function settingsOf(value: JsonObject): Settings {
	const out: Settings = {};
	if (typeof value.slot === "number" || typeof value.slot === "string") out.slot = value.slot;
	if (typeof value.control === "string") out.control = value.control;
	return out;
}

abstract class BoardAction extends SingletonAction<JsonObject> {
	protected abstract readonly role: Role;

	constructor(protected readonly board: Board) {
		super();
	}

	override onWillAppear(ev: WillAppearEvent<JsonObject>): void {
		const act = ev.action;
		const coordinates = act.isKey() || act.isDial() ? act.coordinates : undefined;
		const row = coordinates?.row ?? 0;
		const column = coordinates?.column ?? 0;
		const columns = act.device.size?.columns ?? 8;
		this.board.appear({
			id: act.id,
			role: this.role,
			device: act.device.id,
			controller: act.isDial() ? "Encoder" : "Keypad",
			row,
			column,
			index: row * columns + column,
			settings: settingsOf(ev.payload.settings),
			surface: surfaceOf(act as KeyAction<JsonObject> | DialAction<JsonObject>),
		});
	}

	override onWillDisappear(ev: WillDisappearEvent<JsonObject>): void {
		this.board.disappear(ev.action.id);
	}

	override onDidReceiveSettings(ev: DidReceiveSettingsEvent<JsonObject>): void {
		this.board.configure(ev.action.id, settingsOf(ev.payload.settings));
	}

	override onKeyDown(ev: KeyDownEvent<JsonObject>): Promise<void> {
		return this.board.press(ev.action.id);
	}

	override onKeyUp(ev: KeyUpEvent<JsonObject>): Promise<void> {
		return this.board.release(ev.action.id);
	}

	override onDialDown(ev: DialDownEvent<JsonObject>): Promise<void> {
		return this.board.press(ev.action.id);
	}

	override onDialUp(ev: DialUpEvent<JsonObject>): Promise<void> {
		return this.board.release(ev.action.id);
	}

	override async onTouchTap(ev: TouchTapEvent<JsonObject>): Promise<void> {
		// A tap has no release of its own: it is a press and its release.
		await this.board.press(ev.action.id);
		await this.board.release(ev.action.id);
	}

	override onDialRotate(ev: DialRotateEvent<JsonObject>): void {
		this.board.rotate(ev.action.id, ev.payload.ticks);
	}
}

/** Global settings: where agentlight is, when its discovery file cannot tell. */
export interface ConnectionSettings {
	url?: string;
	token?: string;
}

@action({ UUID: `${PLUGIN_UUID}.agent` })
export class AgentAction extends BoardAction {
	protected readonly role = "agent";

	constructor(
		board: Board,
		private readonly connection: {
			get(): ConnectionSettings;
			set(settings: ConnectionSettings): Promise<void>;
		},
	) {
		super(board);
	}

	/**
	 * The property inspector sends a URL and token; the token goes to the plugin's global
	 * settings and is never sent back: the inspector only learns whether one is set.
	 */
	override async onSendToPlugin(ev: SendToPluginEvent<JsonValue, JsonObject>): Promise<void> {
		const msg = ev.payload;
		if (typeof msg !== "object" || msg === null || Array.isArray(msg)) return;
		if (msg.event === "setConnection") {
			const current = this.connection.get();
			const url = typeof msg.url === "string" ? msg.url.trim() : (current.url ?? "");
			let token = current.token ?? "";
			if (typeof msg.token === "string" && msg.token) token = msg.token.trim();
			if (msg.clearToken === true) token = "";
			await this.connection.set({ url, token });
		}
		const now = this.connection.get();
		await streamDeck.ui.sendToPropertyInspector({ event: "connection", url: now.url ?? "", tokenSet: !!now.token });
	}
}

@action({ UUID: `${PLUGIN_UUID}.session` })
export class SessionAction extends BoardAction {
	protected readonly role = "session";
}

@action({ UUID: `${PLUGIN_UUID}.control` })
export class ControlAction extends BoardAction {
	protected readonly role = "control";
}
