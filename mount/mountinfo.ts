/**
 * FUSE mounts as /proc/self/mountinfo lists them: whether one is at a path, and the
 * device number that names its entry under /sys/class/bdi.
 */
import { readFile } from 'node:fs/promises';

/** The "major:minor" of the FUSE file system mounted at this canonical path; undefined if none is. */
export async function fuseDeviceAt(mountpoint: string): Promise<string | undefined> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  for (const line of table.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (fields[4] !== undefined && unescapeMountPath(fields[4]) === mountpoint && (fields[separator + 1] ?? '').startsWith('fuse')) return fields[2];
  }
  return undefined;
}

export async function isMounted(mountpoint: string): Promise<boolean> {
  return (await fuseDeviceAt(mountpoint)) !== undefined;
}

/** mountinfo writes space, tab, newline and backslash in paths as \ooo octal escapes. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
