/**
 * OpenSSH known_hosts checking, so that an SFTP backend never sends data to a server
 * whose key it has not seen before: the library accepts any host key unless told otherwise.
 * Understands plain and hashed (`|1|salt|hash`) host names, `[host]:port` for other ports,
 * comma lists, `*`/`?` wildcards, `!` negation and the @revoked marker.
 */
import { createHmac } from 'node:crypto';

export type HostKeyVerdict = 'known' | 'unknown' | 'changed' | 'revoked';

interface KnownHostLine {
  readonly marker: string | undefined;
  readonly patterns: string;
  readonly key: Buffer;
}

/** How known_hosts names a host: bare on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function checkHostKey(knownHostsText: string, host: string, port: number, presented: Buffer): HostKeyVerdict {
  const name = knownHostName(host, port);
  let hostSeen = false;
  for (const line of parseLines(knownHostsText)) {
    if (!patternsMatch(line.patterns, name)) continue;
    const sameKey = line.key.equals(presented);
    if (line.marker === '@revoked') {
      if (sameKey) return 'revoked';
      continue;
    }
    if (line.marker !== undefined) continue; // @cert-authority: certificates are not supported
    if (sameKey) return 'known';
    hostSeen = true;
  }
  return hostSeen ? 'changed' : 'unknown';
}

function parseLines(text: string): KnownHostLine[] {
  const lines: KnownHostLine[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) continue;
    const marker = fields[0].startsWith('@') ? fields.shift() : undefined;
    const [patterns, , keyBase64] = fields;
    if (patterns === undefined || keyBase64 === undefined) continue;
    lines.push({ marker, patterns, key: Buffer.from(keyBase64, 'base64') });
  }
  return lines;
}

/** A comma list matches when some pattern matches and no negated one does. */
function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) return hashedMatch(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (!globMatch(negated ? pattern.slice(1) : pattern, name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** `|1|base64 salt|base64 HMAC-SHA1(salt, name)`, as written by HashKnownHosts. */
function hashedMatch(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split('|');
  if (salt === undefined || hash === undefined) return false;
  const expected = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return expected === hash;
}

function globMatch(pattern: string, name: string): boolean {
  const escaped = pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`).test(name.toLowerCase());
}
