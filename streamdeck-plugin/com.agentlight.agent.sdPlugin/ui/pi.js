// The property inspectors' side of Elgato's protocol, with no library: the app calls
// connectElgatoStreamDeckSocket(); settings go back with setSettings, messages for the
// plugin with sendToPlugin. Nothing here is fetched from the network.
"use strict";

/** @type {{ socket: WebSocket | null, uuid: string, action: string, settings: Record<string, unknown>, onSettings: (s: Record<string, unknown>) => void, onMessage: (m: any) => void }} */
const pi = { socket: null, uuid: "", action: "", settings: {}, onSettings: () => {}, onMessage: () => {} };

// eslint-disable-next-line no-unused-vars
function connectElgatoStreamDeckSocket(port, uuid, registerEvent, info, actionInfo) {
	const action = JSON.parse(actionInfo);
	pi.uuid = uuid;
	pi.action = action.action;
	pi.settings = (action.payload && action.payload.settings) || {};
	pi.socket = new WebSocket(`ws://127.0.0.1:${port}`);
	pi.socket.onopen = () => {
		pi.socket.send(JSON.stringify({ event: registerEvent, uuid }));
		pi.onSettings(pi.settings);
		sendToPlugin({ event: "hello" });
	};
	pi.socket.onmessage = (ev) => {
		const msg = JSON.parse(ev.data);
		if (msg.event === "didReceiveSettings") {
			pi.settings = msg.payload.settings || {};
			pi.onSettings(pi.settings);
		} else if (msg.event === "sendToPropertyInspector") {
			pi.onMessage(msg.payload);
		}
	};
}

function saveSettings(settings) {
	pi.settings = settings;
	if (pi.socket) pi.socket.send(JSON.stringify({ event: "setSettings", context: pi.uuid, payload: settings }));
}

function sendToPlugin(payload) {
	if (pi.socket) pi.socket.send(JSON.stringify({ action: pi.action, event: "sendToPlugin", context: pi.uuid, payload }));
}
