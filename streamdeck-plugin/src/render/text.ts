/**
 * Text that fits a key: measured with the font agentlight's own Stream Deck driver draws
 * with (Aileron Regular, see font-data.ts), shrunk, wrapped on words and ended with "…" by
 * the same rules as devices/streamdeck/render.py, and drawn as SVG paths.
 */
import { ASCENDER, DESCENDER, GLYPHS, UNITS_PER_EM } from "./font-data.js";

export const ELLIPSIS = "…";

/** Advance of a character the font lacks, in em (drawn with the system's sans-serif). */
const FALLBACK_ADVANCE = 0.6;

const widths = new Map<string, number>();

/** Width of `text` in pixels at `size` (cached: labels repeat on every redraw). */
export function textWidth(text: string, size: number): number {
	const key = `${size}\u0000${text}`;
	let width = widths.get(key);
	if (width === undefined) {
		let units = 0;
		for (const ch of text) {
			const glyph = GLYPHS[ch];
			units += glyph ? glyph[0] : FALLBACK_ADVANCE * UNITS_PER_EM;
		}
		width = (units * size) / UNITS_PER_EM;
		if (widths.size > 1024) widths.clear();
		widths.set(key, width);
	}
	return width;
}

/** The most characters of `text` (plus `suffix`) that fit in `width`; at least 1. */
function fittingPrefix(text: string, size: number, width: number, suffix = ""): number {
	const chars = Array.from(text);
	let lo = 1;
	let hi = chars.length;
	while (lo < hi) {
		const mid = Math.floor((lo + hi + 1) / 2);
		if (textWidth(chars.slice(0, mid).join("").trimEnd() + suffix, size) <= width) lo = mid;
		else hi = mid - 1;
	}
	return lo;
}

/** `text` cut to `width` pixels, ending with an ellipsis when cut. */
export function ellipsize(text: string, size: number, width: number): string {
	if (textWidth(text, size) <= width) return text;
	const chars = Array.from(text);
	if (textWidth(chars[0] + ELLIPSIS, size) > width) return ELLIPSIS;
	const n = fittingPrefix(text, size, width, ELLIPSIS);
	return chars.slice(0, n).join("").trimEnd() + ELLIPSIS;
}

/**
 * `text` wrapped to `width` pixels in at most `maxLines` lines, and whether text was left
 * out (then the last line ends with an ellipsis). Words wider than a line are broken.
 */
export function wrap(text: string, size: number, width: number, maxLines: number): [string[], boolean] {
	if (maxLines <= 0) return [[], text !== ""];
	if (textWidth(text, size) <= width) return [text ? [text] : [], false];
	const words = text.split(/\s+/).filter((w) => w);
	const lines: string[] = [];
	let current = "";
	let i = 0;
	while (i < words.length) {
		const word = words[i];
		const candidate = current ? `${current} ${word}` : word;
		if (textWidth(candidate, size) <= width) {
			current = candidate;
			i += 1;
			continue;
		}
		if (!current) {
			// One word wider than the line: break it where it stops fitting.
			const n = fittingPrefix(word, size, width);
			const chars = Array.from(word);
			current = chars.slice(0, n).join("");
			words[i] = chars.slice(n).join("");
		}
		if (lines.length + 1 === maxLines) {
			const rest = [current, ...words.slice(i)].join(" ");
			lines.push(ellipsize(rest, size, width));
			return [lines, true];
		}
		lines.push(current);
		current = "";
	}
	if (current) lines.push(current);
	return [lines, false];
}

/** The largest of `sizes` at which `text` fits; else the smallest, ellipsized. */
export function fit(text: string, sizes: readonly number[], width: number, maxLines: number): [number, string[]] {
	let lines: string[] = [];
	for (const size of sizes) {
		const [wrapped, cut] = wrap(text, size, width, maxLines);
		lines = wrapped;
		if (!cut) return [size, lines];
	}
	return [sizes[sizes.length - 1], lines];
}

/** The first of `text`'s " | "-separated variants that fits (longest first). */
export function firstFitting(text: string, size: number, width: number): string {
	const variants = text.split(" | ");
	for (const variant of variants) {
		if (textWidth(variant, size) <= width) return variant;
	}
	return ellipsize(variants[variants.length - 1], size, width);
}

export type Anchor = "la" | "lm" | "ma" | "md";

const round2 = (n: number): string => String(Math.round(n * 100) / 100);

/** A line's outlines at one size, from its left end on the baseline (cached: labels,
 * titles and states repeat on every redraw, and re-scaling glyphs is most of a key's cost). */
const lines = new Map<string, { d: string; fallback: string[] }>();

function linePath(text: string, size: number): { d: string; fallback: string[] } {
	const key = `${size}\u0000${text}`;
	let line = lines.get(key);
	if (line === undefined) {
		const k = size / UNITS_PER_EM;
		let left = 0;
		const parts: string[] = [];
		const fallback: string[] = [];
		for (const ch of text) {
			const glyph = GLYPHS[ch];
			if (!glyph) {
				// A character the bundled font lacks: the app's own sans-serif draws it.
				fallback.push(`<text x="${round2(left)}" y="0" font-family="sans-serif" font-size="${size}">${escapeXml(ch)}</text>`);
				left += FALLBACK_ADVANCE * size;
				continue;
			}
			parts.push(transformPath(glyph[1], left, 0, k));
			left += glyph[0] * k;
		}
		line = { d: parts.join(""), fallback };
		if (lines.size > 256) lines.clear();
		lines.set(key, line);
	}
	return line;
}

/**
 * `text` as one SVG path at `size` pixels, placed like Pillow's `draw.text` with `anchor`
 * (first letter: l = left, m = middle; second: a = ascender line, m = middle, d = descender).
 */
export function textPath(text: string, size: number, x: number, y: number, anchor: Anchor, fill: string): string {
	if (!text) return "";
	const k = size / UNITS_PER_EM;
	const left = anchor[0] === "m" ? x - textWidth(text, size) / 2 : x;
	const asc = ASCENDER * k;
	const desc = DESCENDER * k;
	const baseline = anchor[1] === "a" ? y + asc : anchor[1] === "d" ? y + desc : y + (asc + desc) / 2;
	const line = linePath(text, size);
	const place = `transform="translate(${round2(left)} ${round2(baseline)})"`;
	const path = line.d ? `<path ${place} fill="${fill}" d="${line.d}"/>` : "";
	const fallback = line.fallback.length ? `<g ${place} fill="${fill}">${line.fallback.join("")}</g>` : "";
	return path + fallback;
}

/** A glyph outline in font units (y up) moved to (x, baseline) and scaled by k (y down).
 * Every command carries whole (x, y) pairs, so the numbers alternate x, y throughout. */
function transformPath(d: string, x: number, baseline: number, k: number): string {
	let axis = 0;
	return d.replace(/-?\d+(?:\.\d+)?/g, (num) => {
		const v = Number(num);
		const out = axis % 2 === 0 ? x + v * k : baseline - v * k;
		axis += 1;
		return round2(out);
	});
}

export function escapeXml(text: string): string {
	return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
const UNSAFE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/gu;

function escapeChar(c: string): string {
	const named = NAMED[c];
	if (named) return named;
	const code = c.codePointAt(0) ?? 0;
	if (code <= 0xff) return `\\x${code.toString(16).padStart(2, "0")}`;
	if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, "0")}`;
	return `\\U${code.toString(16).padStart(8, "0")}`;
}

/**
 * Server text made fit to draw, as the driver's safe() does with bridge/text/textsafe.py:
 * controls and invisible format characters shown escaped (a backslash doubled only when
 * something was escaped), odd spaces plain, everything on one line, at most `limit` chars.
 */
export function safe(text: unknown, limit = 500): string {
	if (text === null || text === undefined) return "";
	let s = String(text);
	UNSAFE.lastIndex = 0;
	if (UNSAFE.test(s)) {
		UNSAFE.lastIndex = 0;
		s = s.replace(/\\/g, "\\\\").replace(UNSAFE, escapeChar);
	}
	const chars = Array.from(s);
	if (chars.length > limit) s = chars.slice(0, limit - 1).join("") + ELLIPSIS;
	return s.split(/\s+/u).filter((w) => w).join(" ");
}
