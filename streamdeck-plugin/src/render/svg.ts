/**
 * Key and touch-strip images as SVG, drawn the way agentlight's own Stream Deck driver
 * draws them with Pillow (devices/streamdeck/render.py): the same proportions, the same
 * font, the same fitting rules. Elgato's app takes an SVG data URL for setImage and
 * setFeedback, so no native image library is needed.
 */
import { ellipsize, escapeXml, firstFitting, fit, textPath } from "./text.js";

export type RGB = readonly [number, number, number];
export type FaceKind = "blank" | "global" | "session" | "page" | "details" | "message" | "choice";
export type Marker = "" | "dot" | "ring" | "next" | "prev";

export const BLACK: RGB = [0, 0, 0];
export const WHITE: RGB = [255, 255, 255];

/** What one key shows (render.py's Face). */
export interface Face {
	readonly kind: FaceKind;
	readonly bg: RGB;
	readonly bar: RGB | null;
	readonly header: string;
	readonly title: string;
	readonly lines: readonly string[];
	/** Variants separated by " | ", longest first: the first that fits is drawn. */
	readonly footer: string;
	readonly fg: RGB;
	readonly frame: RGB | null;
	readonly marker: Marker;
	/** A bar along the bottom edge filled this far (0 to 1): a hold under way (null: none). */
	readonly progress: number | null;
}

export function face(kind: FaceKind, fields: Partial<Omit<Face, "kind">> = {}): Face {
	return {
		kind,
		bg: fields.bg ?? BLACK,
		bar: fields.bar ?? null,
		header: fields.header ?? "",
		title: fields.title ?? "",
		lines: fields.lines ?? [],
		footer: fields.footer ?? "",
		fg: fields.fg ?? WHITE,
		frame: fields.frame ?? null,
		marker: fields.marker ?? "",
		progress: fields.progress ?? null,
	};
}

export const BLANK: Face = face("blank");

/** A summary for a wide screen (render.py's Strip). */
export interface Strip {
	readonly color: RGB;
	readonly line: string;
	readonly detail: string;
	readonly dots: readonly RGB[];
}

/** Pixel size keys are drawn at: Elgato's high-resolution key (the app scales it). */
export const KEY_SIZE = 144;
/** One dial's part of the Stream Deck +'s touch strip. */
export const STRIP_SIZE: readonly [number, number] = [200, 100];

export function luminance([r, g, b]: RGB): number {
	return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

/** Black or white, whichever reads better on `rgb`. */
export function inkOn(rgb: RGB): RGB {
	return luminance(rgb) > 0.55 ? BLACK : WHITE;
}

export function scale(rgb: RGB, factor: number): RGB {
	const f = Math.min(1, Math.max(0, factor));
	return [Math.round(rgb[0] * f), Math.round(rgb[1] * f), Math.round(rgb[2] * f)];
}

export function hex([r, g, b]: RGB): string {
	return `#${[r, g, b].map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

/** Python's round(): half to even, so sizes match the driver's. */
function pyRound(n: number): number {
	const r = Math.round(n);
	return Math.abs(n % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const floorDiv = (a: number, b: number): number => Math.floor(a / b);

/** The words on an image, as its <title>: text is drawn as paths, and this keeps it readable
 * (to a screen reader, to a test that checks what a key says). */
function title(words: readonly string[]): string {
	const text = words.filter((w) => w).join(" · ");
	return text ? `<title>${escapeXml(text)}</title>` : "";
}

function svg(w: number, h: number, body: string, words: readonly string[] = []): string {
	return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${title(words)}${body}</svg>`;
}

/** The SVG for `f` on a key of `size` pixels (render_key). */
export function renderKey(f: Face, size = KEY_SIZE): string {
	const w = size;
	const h = size;
	const parts: string[] = [`<rect width="${w}" height="${h}" fill="${hex(f.bg)}"/>`];
	if (f.kind === "blank") return svg(w, h, parts.join(""));
	let edge = 0; // inside an attention frame, everything moves in by its width
	if (f.frame !== null) {
		edge = Math.max(3, pyRound(w * 0.06));
		parts.push(
			`<rect x="${edge / 2}" y="${edge / 2}" width="${w - edge}" height="${h - edge}" fill="none" stroke="${hex(f.frame)}" stroke-width="${edge}"/>`,
		);
	}
	const pad = edge + Math.max(2, pyRound(w * 0.05));
	const inner = w - 2 * pad;
	let y = edge;
	if (f.bar !== null) {
		const band = pyRound(h * 0.2);
		parts.push(`<rect x="${edge}" y="${edge}" width="${w - 2 * edge}" height="${band}" fill="${hex(f.bar)}"/>`);
		const ink = hex(inkOn(f.bar));
		const hsize = Math.max(9, pyRound(h * 0.15));
		let textX = pad;
		if (f.marker) {
			parts.push(marker(f.marker, [pad, edge, pad + band - 4, edge + band], ink));
			textX = pad + band - 2;
		}
		const header = ellipsize(f.header, hsize, w - edge - textX - 2);
		parts.push(textPath(header, hsize, textX, edge + floorDiv(band, 2), "lm", ink));
		y += band;
	}
	y += Math.max(2, pyRound(h * 0.03));
	let bottom = h - edge - Math.max(2, pyRound(h * 0.04));
	if (f.progress !== null) {
		// A hold's progress: an empty track, filled from the left (render.py's).
		const bar = Math.max(4, pyRound(h * 0.1));
		const top = h - edge - bar;
		parts.push(`<rect x="${edge}" y="${top}" width="${w - 2 * edge}" height="${bar}" fill="${hex(scale(f.fg, 0.25))}"/>`);
		const filled = pyRound((w - 2 * edge) * Math.max(0, Math.min(1, f.progress)));
		if (filled > 0) parts.push(`<rect class="progress" x="${edge}" y="${top}" width="${filled}" height="${bar}" fill="${hex(f.fg)}"/>`);
		bottom = top - 2;
	}
	const small = Math.max(10, pyRound(h * 0.14));
	const fg = hex(f.fg);
	if (f.footer) {
		const footer = firstFitting(f.footer, small, inner);
		parts.push(textPath(footer, small, floorDiv(w, 2), bottom, "md", fg));
		bottom -= small + 2;
	}
	if (f.title) {
		const big = pyRound(h * 0.21);
		const sizes = [...new Set([big, pyRound(h * 0.18), pyRound(h * 0.16), small])]
			.filter((s) => s >= small)
			.sort((a, b) => b - a);
		const [tsize, tlines] = fit(f.title, sizes, inner, 1);
		parts.push(textPath(tlines[0] ?? "", tsize, floorDiv(w, 2), y, "ma", fg));
		y += pyRound(tsize * 1.2);
	}
	if (f.lines.length) {
		const lineH = small + 1;
		const room = Math.max(1, floorDiv(bottom - y, lineH));
		const body: string[] = [];
		f.lines.forEach((text, i) => {
			const left = room - body.length;
			if (left <= 0) return;
			// Earlier lines (the error, the title) may wrap, leaving one line for each later one.
			const want = Math.max(1, left - (f.lines.length - 1 - i));
			body.push(...fit(text, [small], inner, want)[1]);
		});
		for (const line of body.slice(0, room)) {
			parts.push(textPath(line, small, floorDiv(w, 2), y, "ma", fg));
			y += lineH;
		}
	}
	return svg(w, h, parts.join(""), [f.header, f.title, ...f.lines, f.footer.split(" | ")[0]]);
}

function marker(kind: Marker, [x0, y0, x1, y1]: readonly number[], ink: string): string {
	const side = Math.min(x1 - x0, y1 - y0);
	const cy = floorDiv(y0 + y1, 2);
	const r = Math.max(2, floorDiv(side, 3));
	const cx = x0 + r + 1;
	switch (kind) {
		case "dot":
			return `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${ink}"/>`;
		case "ring": {
			const width = Math.max(1, floorDiv(r, 2));
			return `<circle cx="${cx}" cy="${cy}" r="${r - width / 2}" fill="none" stroke="${ink}" stroke-width="${width}"/>`;
		}
		case "next":
			return `<polygon points="${cx - r},${cy - r} ${cx + r},${cy} ${cx - r},${cy + r}" fill="${ink}"/>`;
		case "prev":
			return `<polygon points="${cx + r},${cy - r} ${cx - r},${cy} ${cx + r},${cy + r}" fill="${ink}"/>`;
		default:
			return "";
	}
}

/**
 * The SVG for a wide screen of `w`×`h` pixels (render_strip). One dial's part of the
 * touch strip is narrower than the driver's whole strip, so a line first shrinks (down
 * to the smallest size keys use) before it is cut with an ellipsis.
 */
export function renderStrip(strip: Strip, [w, h]: readonly [number, number] = STRIP_SIZE): string {
	const parts: string[] = [`<rect width="${w}" height="${h}" fill="#000000"/>`];
	const band = Math.max(6, pyRound(h * 0.18));
	parts.push(`<rect width="${band}" height="${h}" fill="${hex(strip.color)}"/>`);
	const x = band + Math.max(4, pyRound(h * 0.08));
	const inner = w - x - 4;
	const lines = [strip.line, ...(strip.detail ? [strip.detail] : [])];
	const dotsH = strip.dots.length ? pyRound(h * 0.16) : 0;
	const row = (h - dotsH - 4) / lines.length;
	let y = 2;
	lines.forEach((line, i) => {
		const size = Math.max(10, pyRound(row * (i === 0 ? 0.72 : 0.6)));
		const sizes = [size, pyRound(size * 0.85), pyRound(size * 0.7), 10].filter((s, j, all) => s >= 10 && all.indexOf(s) === j);
		const [fitted, text] = fit(line, sizes, inner, 1);
		parts.push(textPath(text[0] ?? "", fitted, x, pyRound(y + row / 2), "lm", "#ffffff"));
		y += row;
	});
	if (strip.dots.length) {
		const r = Math.max(2, floorDiv(dotsH, 2) - 1);
		const cy = h - floorDiv(dotsH, 2) - 2;
		const step = 2 * r + Math.max(2, r);
		strip.dots.slice(0, Math.max(1, floorDiv(inner, step))).forEach((rgb, i) => {
			parts.push(`<circle cx="${x + r + i * step}" cy="${cy}" r="${r}" fill="${hex(rgb)}"/>`);
		});
	}
	return svg(w, h, parts.join(""), lines);
}

/** An SVG as the data URL Elgato's app takes for setImage and setFeedback. */
export function dataUrl(svgText: string): string {
	return `data:image/svg+xml;base64,${Buffer.from(svgText, "utf8").toString("base64")}`;
}

