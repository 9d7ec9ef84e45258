/**
 * A press as the document POST /v1/input takes: the same meaning as a press on a key of
 * agentlight's own deck (bridge/pipeline/inputs.py: a target that is the global state, a
 * session by source and key, or a named control), so it takes the same path through the
 * engine to the source that owns the session.
 */
import type { Press } from "../board.js";

export function inputDocument(press: Press): Record<string, unknown> {
	const target: Record<string, unknown> = { kind: press.kind };
	if (press.session !== null) {
		target.source = press.session.source;
		target.key = press.session.key;
	}
	if (press.name) target.name = press.name;
	return { control: press.control, pressed: true, target };
}
