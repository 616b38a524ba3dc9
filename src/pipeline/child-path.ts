/**
 * The path of an entry named `name` (from readdir: never '.', '..' or containing '/') in
 * the folder at `folder`, an already normal path. path.join normalizes the whole result
 * character by character, which for the tens of thousands of entries of a backup made
 * about 4 % of everything the main thread allocated.
 */
export function childPath(folder: string, name: string): string {
  return folder.endsWith('/') ? `${folder}${name}` : `${folder}/${name}`;
}
