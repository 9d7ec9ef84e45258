/**
 * Puts images on one key (or one dial's touch strip) without waste: an image is sent only
 * when it differs from the one on the key, at most 10 in any second (a newer image waiting
 * for its turn replaces an older one), and a blinking key flips between two cached images
 * at its effect's period, all blinking keys in step.
 *
 * The limit is a window, not a gap: a state change right after the clock ticked goes out at
 * once (a fixed 100 ms gap would hold it back up to 100 ms); only a key that really changes
 * more than 10 times in a second waits.
 */

/** What a key should show: one image, or two to alternate every `phaseMs`. */
export interface Want {
	readonly images: readonly [string] | readonly [string, string];
	readonly phaseMs: number;
}

export const MAX_PER_SECOND = 10;
/** The shortest blink phase: two phases a blink, so ≤ 10 flips a second. */
export const MIN_PHASE_MS = 1000 / MAX_PER_SECOND;

export interface Clock {
	now(): number;
	setTimeout(fn: () => void, ms: number): unknown;
	clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
	now: () => performance.now(),
	setTimeout: (fn, ms) => setTimeout(fn, ms),
	clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export class Painter {
	private want: Want | null = null;
	private shown: string | null = null;
	/** When the last (up to) MAX_PER_SECOND images were sent, oldest first. */
	private readonly sentAt: number[] = [];
	private pending: unknown = null;
	private blink: unknown = null;
	private closed = false;

	constructor(
		private readonly send: (image: string) => void,
		private readonly clock: Clock = realClock,
	) {}

	/** Show `want` from now on (nothing is sent if the key already shows it). */
	set(want: Want): void {
		if (this.closed) return;
		const prev = this.want;
		if (
			prev !== null &&
			prev.phaseMs === want.phaseMs &&
			prev.images.length === want.images.length &&
			prev.images.every((img, i) => img === want.images[i])
		) {
			return;
		}
		this.want = want;
		this.stopBlink();
		if (want.images.length === 2) this.flip();
		else this.show(want.images[0]);
	}

	/** The key went away (or shows something the app drew itself): forget what it showed. */
	close(): void {
		this.closed = true;
		this.stopBlink();
		if (this.pending !== null) this.clock.clearTimeout(this.pending);
		this.pending = null;
	}

	/** The app redraws the key (it appeared again): send the image even if unchanged. */
	reset(): void {
		this.shown = null;
		this.want = null;
		this.closed = false;
	}

	private stopBlink(): void {
		if (this.blink !== null) this.clock.clearTimeout(this.blink);
		this.blink = null;
	}

	/** Show the image of the current phase; wake at the next phase boundary. */
	private flip(): void {
		const want = this.want;
		if (want === null || want.images.length !== 2) return;
		const phase = Math.max(MIN_PHASE_MS, want.phaseMs);
		const now = this.clock.now();
		// Phases counted from the clock's zero, so every blinking key flips together.
		const index = Math.floor(now / phase) % 2;
		this.show(want.images[index]);
		const next = (Math.floor(now / phase) + 1) * phase - now;
		this.blink = this.clock.setTimeout(() => {
			this.blink = null;
			this.flip();
		}, next + 1);
	}

	private show(image: string): void {
		if (this.pending !== null) {
			this.clock.clearTimeout(this.pending);
			this.pending = null;
		}
		if (image === this.shown) return;
		const now = this.clock.now();
		const wait = this.sentAt.length < MAX_PER_SECOND ? 0 : this.sentAt[0] + 1000 - now;
		if (wait > 0) {
			this.pending = this.clock.setTimeout(() => {
				this.pending = null;
				this.show(image);
			}, wait);
			return;
		}
		this.shown = image;
		this.sentAt.push(now);
		if (this.sentAt.length > MAX_PER_SECOND) this.sentAt.shift();
		this.send(image);
	}
}
