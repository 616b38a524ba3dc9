/**
 * The contract every Backend must meet (src/backend/backend.ts), run against each
 * implementation by its own test file with runBackendSuite(name, makeBackend).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Backend, type ObjectInfo, putObjects } from '../src/backend/index.js';
import { ObjectNotFoundError } from '../src/errors/index.js';
import { seededBytes } from './support.js';

export type BackendFactory = () => Promise<{ backend: Backend; dispose: () => Promise<void> }>;

async function withBackend(make: BackendFactory, body: (backend: Backend) => Promise<void>): Promise<void> {
  const { backend, dispose } = await make();
  try {
    await body(backend);
  } finally {
    await dispose();
  }
}

async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const keys: string[] = [];
  for await (const { key } of iterable) keys.push(key);
  return keys.sort();
}

export function runBackendSuite(name: string, make: BackendFactory): void {
  test(`${name}: put then get returns the same bytes; has reflects existence`, () =>
    withBackend(make, async (backend) => {
      const data = seededBytes(1, 100_000);
      assert.not.ok(await backend.has('blocks/aa/bb/x'));
      assert.ok(await backend.put('blocks/aa/bb/x', data));
      assert.ok(await backend.has('blocks/aa/bb/x'));
      assert.ok((await backend.get('blocks/aa/bb/x')).equals(data));
    }));

  test(`${name}: get returns a multi-MiB object whole`, () =>
    withBackend(make, async (backend) => {
      const data = seededBytes(2, 5 * 1024 * 1024 + 17);
      assert.ok(await backend.put('blocks/aa/cc/large', data));
      assert.ok((await backend.get('blocks/aa/cc/large')).equals(data));
    }));

  test(`${name}: objects are immutable; a second put keeps the first and returns false`, () =>
    withBackend(make, async (backend) => {
      assert.ok(await backend.put('archives/a', Buffer.from('first')));
      assert.not.ok(await backend.put('archives/a', Buffer.from('second')));
      assert.is((await backend.get('archives/a')).toString(), 'first');
    }));

  test(`${name}: get of a missing object throws ObjectNotFoundError naming it`, () =>
    withBackend(make, async (backend) => {
      try {
        await backend.get('blocks/00/00/missing');
        assert.unreachable('get should have thrown');
      } catch (error) {
        assert.instance(error, ObjectNotFoundError);
        assert.match((error as Error).message, 'blocks/00/00/missing');
      }
    }));

  test(`${name}: list returns exactly the keys under a prefix, and nothing temporary`, () =>
    withBackend(make, async (backend) => {
      await backend.put('blocks/aa/bb/one', Buffer.from('1'));
      await backend.put('blocks/cc/dd/two', Buffer.from('2'));
      await backend.put('archives/three', Buffer.from('3'));
      assert.equal(await collect(backend.list('blocks/')), ['blocks/aa/bb/one', 'blocks/cc/dd/two']);
      assert.equal(await collect(backend.list('archives/')), ['archives/three']);
      assert.equal(await collect(backend.list('trees/')), []);
    }));

  test(`${name}: list reports each object's size; an empty object round-trips`, () =>
    withBackend(make, async (backend) => {
      await backend.put('trees/00/11/big', seededBytes(2, 70_000));
      await backend.put('trees/00/11/empty', Buffer.alloc(0));
      const sizes: Record<string, number> = {};
      for await (const { key, size } of backend.list('trees/')) sizes[key] = size;
      assert.equal(sizes, { 'trees/00/11/big': 70_000, 'trees/00/11/empty': 0 });
      assert.is((await backend.get('trees/00/11/empty')).length, 0);
    }));

  test(`${name}: delete removes an object and tolerates a missing one`, () =>
    withBackend(make, async (backend) => {
      await backend.put('archives/gone', Buffer.from('x'));
      await backend.delete('archives/gone');
      assert.not.ok(await backend.has('archives/gone'));
      await backend.delete('archives/gone');
    }));

  test(`${name}: concurrent puts of one key: exactly one creates it, content is whole`, () =>
    withBackend(make, async (backend) => {
      const data = seededBytes(3, 1 << 20);
      const results = await Promise.all(Array.from({ length: 8 }, () => backend.put('blocks/ee/ff/same', data)));
      assert.is(results.filter(Boolean).length, 1);
      assert.ok((await backend.get('blocks/ee/ff/same')).equals(data));
    }));

  test(`${name}: putObjects stores a batch, says which objects it created, and keeps existing ones`, () =>
    withBackend(make, async (backend) => {
      await backend.put('blocks/12/34/old', Buffer.from('kept'));
      const objects = [
        { key: 'blocks/12/34/old', data: Buffer.from('replacement') },
        { key: 'blocks/56/78/new', data: seededBytes(4, 300_000) },
        { key: 'trees/9a/bc/empty', data: Buffer.alloc(0) },
      ];
      assert.equal(await putObjects(backend, objects), [false, true, true]);
      assert.is((await backend.get('blocks/12/34/old')).toString(), 'kept');
      for (const { key, data } of objects.slice(1)) assert.ok((await backend.get(key)).equals(data), key);
      assert.equal(await putObjects(backend, objects.slice(1)), [false, false]);
      assert.equal(await collect(backend.list('blocks/')), ['blocks/12/34/old', 'blocks/56/78/new']);
    }));

  test(`${name}: puts, refused puts and batches leave nothing under a temporary name`, () =>
    withBackend(make, async (backend) => {
      // Only backends that write under temporary names first have any to show (optional in the contract).
      if (!backend.temporaries) return;
      await backend.put('blocks/ab/cd/one', seededBytes(5, 200_000));
      assert.not.ok(await backend.put('blocks/ab/cd/one', Buffer.from('refused')));
      await putObjects(backend, [
        { key: 'blocks/ab/cd/one', data: Buffer.from('refused') },
        { key: 'trees/ab/cd/two', data: seededBytes(6, 1000) },
      ]);
      assert.equal(await collect(backend.temporaries()), []);
    }));

  test(`${name}: keys that could escape the backend are refused`, () =>
    withBackend(make, async (backend) => {
      for (const key of ['../escape', 'blocks/../../x', '/abs', 'a//b']) {
        let threw = false;
        try {
          await backend.put(key, Buffer.from('x'));
        } catch {
          threw = true;
        }
        assert.ok(threw, `put ${key} should throw`);
        await putObjects(backend, [{ key, data: Buffer.from('x') }]).then(
          () => assert.unreachable(`putObjects ${key} should throw`),
          (error: unknown) => assert.match(String(error), 'invalid backend key'),
        );
      }
    }));
}
