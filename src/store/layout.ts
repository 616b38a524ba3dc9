/**
 * Where each kind of object lives on a backend (SPEC §3). Content-addressed objects fan
 * out over two levels of two hex digits so no folder grows past a few thousand entries.
 */
import { type ArchiveId, type ObjectId, idFromHex, idToHex } from './ids.js';

export const ARCHIVES_PREFIX = 'archives/';

const CONTENT_PREFIXES = { block: 'blocks/', tree: 'trees/' } as const;

/** The key of a block or tree whose id the caller already has in hex. */
export function contentKeyFromHex(kind: 'block' | 'tree', hex: string): string {
  return `${CONTENT_PREFIXES[kind]}${hex.slice(0, 2)}/${hex.slice(2, 4)}/${hex}`;
}

export const blockKey = (id: ObjectId<'block'>): string => contentKeyFromHex('block', idToHex(id));
/** Folder metadata objects: the content-addressed trees of docs/FORMAT.md. */
export const treeKey = (id: ObjectId<'tree'>): string => contentKeyFromHex('tree', idToHex(id));
export const archiveKey = (id: ArchiveId): string => `${ARCHIVES_PREFIX}${idToHex(id)}`;

/** The archive id behind a key under archives/, or undefined for anything else there. */
export function archiveIdFromKey(key: string): ArchiveId | undefined {
  return key.startsWith(ARCHIVES_PREFIX) ? idFromHex(key.slice(ARCHIVES_PREFIX.length), 'archive') : undefined;
}

/**
 * The id behind a block or tree key, or undefined when the key is not exactly where that
 * id's object belongs (a stray or misplaced file, which no reader would ever fetch).
 */
export function contentIdFromKey<K extends 'block' | 'tree'>(key: string, kind: K): ObjectId<K> | undefined {
  const id = idFromHex(key.slice(key.lastIndexOf('/') + 1), kind);
  if (!id) return undefined;
  const expected = kind === 'block' ? blockKey(id as ObjectId<'block'>) : treeKey(id as ObjectId<'tree'>);
  return expected === key ? id : undefined;
}

const CONTENT_KEY = /^(?:blocks|trees)\/([0-9a-f]{2})\/([0-9a-f]{2})\/(\1\2[0-9a-f]{60})$/;

/**
 * The hex id behind a block or tree key that is exactly where the layout puts it, else
 * undefined: contentIdFromKey's test without making an id, for listings of every object.
 */
export function contentHexFromKey(key: string): string | undefined {
  return CONTENT_KEY.exec(key)?.[3];
}
