/** Backend keys: the one check every backend applies before touching storage. */

/**
 * Throws RangeError for a key that is empty, absolute, or has an empty, '.' or '..'
 * component, so that no key can name something outside the backend's root.
 */
export function checkKey(key: string): string {
  if (key.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new RangeError(`invalid backend key ${JSON.stringify(key)}`);
  }
  return key;
}
