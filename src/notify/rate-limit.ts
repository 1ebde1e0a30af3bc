/**
 * Per-channel rate limit arithmetic over a sliding minute: how many
 * messages may go now, and when the next slot frees. Pure: the caller keeps
 * the send times and the clock.
 */
export const RATE_WINDOW_MS = 60_000

/** The send times still inside the window ending at `now`. */
export function withinWindow(sentAt: readonly number[], now: number, windowMs = RATE_WINDOW_MS): number[] {
  return sentAt.filter((t) => t > now - windowMs)
}

/** Messages that may be sent at `now`. */
export function roomAt(
  sentAt: readonly number[],
  now: number,
  perWindow: number,
  windowMs = RATE_WINDOW_MS,
): number {
  return Math.max(0, perWindow - withinWindow(sentAt, now, windowMs).length)
}

/** Milliseconds until a slot frees (0 when one is free now). */
export function nextSlotInMs(
  sentAt: readonly number[],
  now: number,
  perWindow: number,
  windowMs = RATE_WINDOW_MS,
): number {
  const recent = withinWindow(sentAt, now, windowMs).sort((a, b) => a - b)
  if (recent.length < perWindow) return 0
  // The slot frees when the oldest send that keeps the window full leaves it.
  const blocking = recent[recent.length - perWindow] as number
  return Math.max(0, blocking + windowMs - now)
}
