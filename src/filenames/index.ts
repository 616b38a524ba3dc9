/**
 * filenames: names and paths as Linux has them, which is bytes (anything but '/' and NUL),
 * not text. Node hands them out as UTF-8 decoded strings, and a name that is not valid
 * UTF-8 (an old Latin-1 file name, say) comes back with U+FFFD in place of its bytes: a
 * file that can no longer be opened by that name, a symlink target silently changed.
 *
 * Here a name is a string that holds its bytes exactly: valid UTF-8 decoded as usual, and
 * each byte of anything else as a lone surrogate U+DC80 + byte (the "surrogateescape" of
 * Python's os module). Valid UTF-8 never decodes to a lone surrogate, so the mapping is
 * one to one, and a name that is valid UTF-8 is the very string Node would give. Such a
 * string goes back to bytes for the kernel (fsPath), for archives and for the cache.
 */
import { isUtf8 } from 'node:buffer';
import { readdirSync } from 'node:fs';

const ESCAPE_BASE = 0xdc00;
/** Lone low surrogates from U+DC80 to U+DCFF: escaped bytes 0x80–0xFF. In unicode mode a paired surrogate is part of its code point and never matches. */
const ESCAPED_BYTE = /([\udc80-\udcff])/u;
const ESCAPED_BYTES = new RegExp(ESCAPED_BYTE.source, 'gu');

/** The name or path that `bytes` hold; any bytes round-trip through nameToBytes. */
export function nameFromBytes(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return buffer.toString('utf8');
  let name = '';
  let runStart = 0;
  let at = 0;
  while (at < buffer.length) {
    const length = utf8SequenceLength(buffer, at);
    if (length > 0) {
      at += length;
      continue;
    }
    name += buffer.toString('utf8', runStart, at) + String.fromCharCode(ESCAPE_BASE + (buffer[at] as number));
    runStart = ++at;
  }
  return name + buffer.toString('utf8', runStart);
}

/** The bytes of a name or path made by nameFromBytes (for any other string, its UTF-8). */
export function nameToBytes(name: string): Buffer {
  if (name.isWellFormed()) return Buffer.from(name, 'utf8');
  // split() with a capturing group: text at even indices, one escaped byte at odd ones.
  const pieces = name.split(ESCAPED_BYTE);
  return Buffer.concat(pieces.map((piece, k) => (k % 2 === 1 ? Buffer.of(piece.charCodeAt(0) - ESCAPE_BASE) : Buffer.from(piece, 'utf8'))));
}

/** What node:fs calls take for a path: the string itself when it is text, else its bytes. */
export function fsPath(path: string): string | Buffer {
  return path.isWellFormed() ? path : nameToBytes(path);
}

/**
 * The names in the folder at `path`. Read as bytes only when Node shows a name with U+FFFD:
 * a Buffer per name made the listing three times as slow (18,000 names: 30 ms against 10),
 * and nearly every folder holds UTF-8 names alone.
 */
export function readFolderNames(path: string): string[] {
  const names = readdirSync(fsPath(path));
  return names.some((name) => name.includes('\ufffd')) ? readdirSync(fsPath(path), { encoding: 'buffer' }).map(nameFromBytes) : names;
}

/** The path of `name` in the folder at `folder`, both relative to a root that is itself ''. */
export function relativeChildPath(folder: string, name: string): string {
  return folder === '' ? name : `${folder}/${name}`;
}

/**
 * The name as text, for what can only show text (the mount: fuse-native passes names as
 * UTF-8 strings): each byte that is not UTF-8 becomes the Latin-1 character of that value.
 * Latin-1 is where most such names come from, so they read as they were meant to, and
 * unlike U+FFFD for every odd byte, names that differ only in such bytes stay distinct.
 */
export function shownName(name: string): string {
  return name.isWellFormed() ? name : name.replace(ESCAPED_BYTES, (escaped) => String.fromCharCode(escaped.charCodeAt(0) - ESCAPE_BASE));
}

/**
 * The length of the well-formed UTF-8 sequence at `at` (Unicode's table 3-7: no overlong
 * forms, no surrogates, nothing beyond U+10FFFF), or 0 when none starts there.
 */
function utf8SequenceLength(bytes: Buffer, at: number): number {
  const lead = bytes[at] as number;
  if (lead < 0x80) return 1;
  // The continuation bytes all lie in 0x80..0xBF, but the first one's range depends on the lead.
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return 0;
  if (at + length > bytes.length) return 0;
  for (let k = 1; k < length; k++) {
    const byte = bytes[at + k] as number;
    if (byte < low || byte > high) return 0;
    low = 0x80;
    high = 0xbf;
  }
  return length;
}
