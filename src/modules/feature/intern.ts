/**
 * One kept copy of each text that entity states hold. A state keeps every event of its longest window, and most of
 * its texts repeat (a card's country and devices, a merchant's cards), yet each event parsed from JSON brings its own
 * copies: without this, every event kept costs a string per text column (a heap cell and an allocation for its
 * characters) for the whole window. A state loaded from disk needs none of this: one JSON.parse already shares its
 * repeated texts.
 */
const kept = new Map<string, string>();

/** Bounds the table: a column of unique texts (ids) empties it now and then instead of growing it without end. */
export const INTERN_MAX = 1 << 17;

export function intern(text: string): string {
  const copy = kept.get(text);
  if (copy !== undefined) return copy;
  if (kept.size >= INTERN_MAX) kept.clear();
  kept.set(text, text);
  return text;
}
