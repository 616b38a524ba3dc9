/**
 * owners: user and group names from the system databases (/etc/passwd, /etc/group), and
 * the mapping of an archive's numeric owners to local ones by name: a backup made on one
 * machine restores or mounts with the right owners on another whose ids differ.
 */
import { readFile } from 'node:fs/promises';
import { isErrnoException } from '../errors/index.js';

export interface NameDatabase {
  readonly nameById: ReadonlyMap<number, string>;
  readonly idByName: ReadonlyMap<string, number>;
}

export interface Accounts {
  readonly users: NameDatabase;
  readonly groups: NameDatabase;
}

/** Parses passwd/group format: name:password:id:… one entry per line. */
export function parseNameDatabase(text: string): NameDatabase {
  const nameById = new Map<number, string>();
  const idByName = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [name, , idText] = line.split(':');
    if (!name || !idText || !/^\d+$/.test(idText) || name.startsWith('#')) continue;
    const id = Number(idText);
    if (!nameById.has(id)) nameById.set(id, name);
    if (!idByName.has(name)) idByName.set(name, id);
  }
  return { nameById, idByName };
}

async function readNameDatabase(path: string): Promise<NameDatabase> {
  try {
    return parseNameDatabase(await readFile(path, 'utf8'));
  } catch (error) {
    // A system without the file simply has no names; ids then stay numeric.
    if (isErrnoException(error) && error.code === 'ENOENT') return parseNameDatabase('');
    throw error;
  }
}

export async function readSystemAccounts(passwd = '/etc/passwd', group = '/etc/group'): Promise<Accounts> {
  const [users, groups] = await Promise.all([readNameDatabase(passwd), readNameDatabase(group)]);
  return { users, groups };
}

/** The names of the given ids, for the tables an archive records. */
export function namesFor(ids: Iterable<number>, database: NameDatabase): Map<number, string> {
  const table = new Map<number, string>();
  for (const id of ids) {
    const name = database.nameById.get(id);
    if (name !== undefined) table.set(id, name);
  }
  return table;
}

/**
 * Maps archive ids to local ids: through the archive's name table when the local system
 * knows that name, the archive's number otherwise.
 */
export function idMapper(archiveNames: ReadonlyMap<number, string>, local: NameDatabase): (archiveId: number) => number {
  return (archiveId) => {
    const name = archiveNames.get(archiveId);
    return (name === undefined ? undefined : local.idByName.get(name)) ?? archiveId;
  };
}
