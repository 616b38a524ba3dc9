import type { Command } from 'commander';
import { type ArchiveRecord, type Snapshot, describeSource, sourcePathsOf } from '../archive/index.js';
import { type ListedEntry, archiveEntries } from '../commands/index.js';
import { idToHex } from '../store/ids.js';
import { type CliContext, damagedArchivesError } from './context.js';
import { type RepositoryFlags, withRepositoryFlags } from './flags.js';
import { formatBytes, formatTable, formatTime, modeString } from './format.js';

export function registerList(program: Command, context: CliContext): void {
  withRepositoryFlags(program.command('list').description('show the archives on the backend, oldest first; with NAME, what archive NAME holds (or the given paths in it)'))
    .argument('[name]', 'the archive whose files, folders and symlinks to list')
    .argument('[paths...]', 'only these files or folders inside the archive, and what they hold')
    .option('--json', 'print a JSON array of archives, or a JSON object per entry, one per line')
    .action(async (name: string | undefined, paths: string[], flags: RepositoryFlags & { json?: boolean }) => {
      const repository = await context.openRepository(flags);
      if (name !== undefined) {
        await printEntries(context, await repository.snapshot(name), paths, flags.json === true);
        return;
      }
      const listing = await repository.catalog.list();
      const records = context.readableArchives(listing);
      printArchives(context, records, flags.json === true, repository.backend.location);
      if (listing.damaged.length > 0) throw damagedArchivesError(listing.damaged.length);
    });
}

function printArchives(context: CliContext, records: readonly ArchiveRecord[], json: boolean, location: string): void {
  if (json) {
    const rows = records.map(({ id, metadata: m }) => ({
      name: m.name,
      id: idToHex(id),
      created: new Date(Number(m.createdAtNs / 1_000_000n)).toISOString(),
      hostname: m.hostname,
      source: describeSource(m.sourcePath),
      paths: sourcePathsOf(m.sourcePath),
      files: m.totals.files,
      directories: m.totals.directories,
      symlinks: m.totals.symlinks,
      bytes: m.totals.bytes,
      storedBytes: m.totals.storedBytes,
    }));
    context.print(JSON.stringify(rows, null, 2));
    return;
  }
  if (records.length === 0) {
    context.print(`no archives on ${location}`);
    return;
  }
  // ADDED: what the create stored that the backend lacked, as borg's "deduplicated size".
  const header = ['NAME', 'CREATED', 'FILES', 'SIZE', 'ADDED', 'SOURCE'];
  const rows = records.map(({ metadata: m }) => [
    m.name,
    formatTime(m.createdAtNs),
    String(m.totals.files),
    formatBytes(m.totals.bytes),
    formatBytes(m.totals.storedBytes),
    `${m.hostname}:${describeSource(m.sourcePath)}`,
  ]);
  for (const line of formatTable([header, ...rows])) context.print(line);
}

/**
 * One line per entry, as `ls -l` would show it: mode (followed by '+' when the entry has an
 * ACL), owner and group (names the archive recorded, else numbers), size, mtime and path; a
 * folder's path ends with '/', a symlink's is followed by its target. With --json, one
 * object per line (JSON Lines), so that a listing of millions of entries streams as the
 * text does.
 */
async function printEntries(context: CliContext, snapshot: Snapshot, paths: readonly string[], json: boolean): Promise<void> {
  const { userNames, groupNames } = snapshot.metadata;
  const describe = json ? (listed: ListedEntry, users: Names, groups: Names) => JSON.stringify(entryFields(listed, users, groups)) : entryLine;
  for await (const run of archiveEntries(snapshot, paths)) context.print(run.map((listed) => describe(listed, userNames, groupNames)).join('\n'));
}

export type Names = ReadonlyMap<number, string>;

/** A file's size; folders and symlinks show 0, as borg lists them. */
function listedSize(entry: ListedEntry['entry']): number {
  return entry.type === 'file' ? entry.size : 0;
}

export function entryLine({ path, entry }: ListedEntry, users: Names, groups: Names): string {
  const owner = (users.get(entry.uid) ?? String(entry.uid)).padEnd(8);
  const group = (groups.get(entry.gid) ?? String(entry.gid)).padEnd(8);
  const size = String(listedSize(entry)).padStart(12);
  const shownPath = entry.type === 'directory' ? `${path}/` : entry.type === 'symlink' ? `${path} -> ${entry.target}` : path;
  const acl = entry.xattrs.some(({ name }) => name.startsWith('system.posix_acl_')) ? '+' : '';
  return `${modeString(entry.type, entry.mode)}${acl} ${owner} ${group} ${size} ${formatTime(entry.mtimeNs)} ${shownPath}`;
}

/** An entry as list --json prints it. */
export function entryFields({ path, entry }: ListedEntry, users: Names, groups: Names): Record<string, unknown> {
  return {
    path,
    type: entry.type,
    mode: entry.mode,
    permissions: modeString(entry.type, entry.mode),
    uid: entry.uid,
    gid: entry.gid,
    user: users.get(entry.uid) ?? null,
    group: groups.get(entry.gid) ?? null,
    size: listedSize(entry),
    mtime: formatTime(entry.mtimeNs),
    mtimeNs: String(entry.mtimeNs),
    ...(entry.type === 'symlink' ? { target: entry.target } : {}),
    // Names only: values may be binary and large (the mount shows them, getfattr -d reads them).
    ...(entry.xattrs.length > 0 ? { xattrs: entry.xattrs.map(({ name }) => name) } : {}),
  };
}
