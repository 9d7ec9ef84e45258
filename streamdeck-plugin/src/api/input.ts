/**
 * A press as the document POST /v1/input takes: the same meaning as a press on a key of
 * agentlight's own deck (bridge/pipeline/inputs.py: a target that is the global state, a
 * session by source and key, or a named control; bridge/api/documents.py's input_event),
 * so it takes the same path through the engine to the source that owns the session. A
 * release is the same document with "pressed": false.
 */
import type { Press } from "../board.js";

export function inputDocument(press: Press): Record<string, unknown> {
	// {"target": "session", "source": …, "key": …, "action": "details", "control": "key:3"}
	const doc: Record<string, unknown> = { target: press.kind };
	if (press.session !== null && press.kind !== "global") {
		doc.source = press.session.source;
		doc.key = press.session.key;
	}
	if (press.name) doc.action = press.name;
	// The request an answer was drawn for: agentlight refuses it once another took its place.
	if (press.ask) doc.ask = press.ask;
	doc.control = press.control;
	if (!press.pressed) doc.pressed = false;
	return doc;
}
