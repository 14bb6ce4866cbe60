/**
 * Names from the database shown so that invisible and direction-changing characters show:
 * `trips\u200b` or `\u202espirt` would otherwise read as "trips" (a hostile database's
 * look-alike table).
 */

/** Zero-width, bidi control, and other invisible format characters. */
const INVISIBLE = /[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

export type NamePart = {text: string; escaped: boolean};

function escapeOf(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `name` split into plain text and `\uXXXX` escapes of its invisible characters. */
export function nameParts(name: string): NamePart[] {
  const parts: NamePart[] = [];
  let last = 0;
  for (const m of name.matchAll(INVISIBLE)) {
    if (m.index > last) parts.push({text: name.slice(last, m.index), escaped: false});
    parts.push({text: escapeOf(m[0]), escaped: true});
    last = m.index + m[0].length;
  }
  if (last < name.length) parts.push({text: name.slice(last), escaped: false});
  return parts;
}

/** `name` as plain text with its invisible characters escaped (titles, labels). */
export function visibleName(name: string): string {
  return name.replace(INVISIBLE, escapeOf);
}
