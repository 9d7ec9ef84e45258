/**
 * agentlight's Stream Deck plugin: the agent on the keys of a deck that Elgato's app runs,
 * fed by the local API of a running agentlight (GET /v1/status/stream, POST /v1/input).
 */
import streamDeck from "@elgato/streamdeck";
import { AgentAction, type ConnectionSettings, ControlAction, SessionAction } from "./actions.js";
import { inputDocument } from "./api/input.js";
import { Link, postInput } from "./api/link.js";
import { Board } from "./board.js";
import type { JsonObject } from "./json.js";

let connection: ConnectionSettings = {};

function manual(settings: ConnectionSettings): { url: string; token: string | null } | null {
	return settings.url ? { url: settings.url, token: settings.token || null } : null;
}

function fromJson(value: JsonObject): ConnectionSettings {
	return {
		url: typeof value.url === "string" ? value.url : undefined,
		token: typeof value.token === "string" ? value.token : undefined,
	};
}

const board = new Board(
	async (press) => {
		const endpoint = link.endpoint;
		if (endpoint === null) return false;
		const code = await postInput(endpoint, inputDocument(press));
		if (code < 200 || code >= 300) streamDeck.logger.warn(`POST /v1/input: ${code || "no answer"}`);
		return code >= 200 && code < 300;
	},
	() => link.retryNow(),
);

const link = new Link((state) => {
	if (state.kind === "offline") streamDeck.logger.info(`agentlight: ${state.why}${state.detail ? ` (${state.detail})` : ""}`);
	board.setState(state);
});

streamDeck.actions.registerAction(
	new AgentAction(board, {
		get: () => connection,
		set: async (settings) => {
			connection = settings;
			await streamDeck.settings.setGlobalSettings({ url: settings.url ?? "", token: settings.token ?? "" });
			link.configure(manual(connection));
		},
	}),
);
streamDeck.actions.registerAction(new SessionAction(board));
streamDeck.actions.registerAction(new ControlAction(board));

streamDeck.settings.onDidReceiveGlobalSettings<JsonObject>((ev) => {
	const next = fromJson(ev.settings);
	const changed = next.url !== connection.url || next.token !== connection.token;
	connection = next;
	if (changed) link.configure(manual(connection));
});

await streamDeck.connect();
// Settings first (they may name a URL), then the stream; a slow answer does not hold it up.
const settled = streamDeck.settings.getGlobalSettings<JsonObject>().then(
	(value) => {
		connection = fromJson(value);
		link.configure(manual(connection));
	},
	() => undefined,
);
link.start();
await Promise.race([settled, new Promise((r) => setTimeout(r, 1000))]);
