/**
 * rename: an archive's object is named by its encrypted name, so renaming writes the same
 * metadata under the new name, then removes the old object. Between the two both exist (a
 * crash leaves the archive twice, never not at all), so no lock is needed against gc.
 */
import type { Repository } from '../repository/index.js';
import { claimArchiveName } from './new-archive.js';

export async function renameArchive(catalog: Repository['catalog'], oldName: string, newName: string): Promise<void> {
  const record = await catalog.read(oldName);
  await claimArchiveName(catalog, newName);
  await catalog.write({ ...record.metadata, name: newName });
  await catalog.remove(oldName);
}
