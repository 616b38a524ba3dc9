/**
 * Several backends used as one (`--backend` given more than once). Every object is
 * written to every member; reads come from the first member that has a good copy, in
 * the order given, and fall back to the next when a copy is missing, unreachable, or
 * rejected by the caller's opener as corrupt (see readObject), with a warning naming
 * both. A member that fails outright (unreachable, refused) is set aside for the rest of
 * the run with a warning, unless failures are not tolerated (gc), when it ends the run.
 */
import { ObjectNotFoundError, describeError, isDamagedObject } from '../errors/index.js';
import { type Backend, type BackendNotes, type DatedObject, type NewObject, type ObjectInfo, type ObjectOpener, hasObjects, putObjects } from './backend.js';

export interface MemberReport {
  readonly location: string;
  /** Objects this run created on the member, and their bytes. */
  readonly objectsWritten: number;
  readonly bytesWritten: number;
  /** Why the member was set aside, when it was. */
  readonly failure?: string;
}

export interface MirrorOptions {
  /** Go on with the other members when one fails; when false, any member's failure is the run's. */
  readonly tolerateFailures: boolean;
  readonly onWarning: (message: string) => void;
}

/** A member that could not even be opened is kept, failed, so that reports name it. */
export type MirrorMember = { readonly location: string } & ({ readonly backend: Backend } | { readonly failure: unknown });

class Member {
  objectsWritten = 0;
  bytesWritten = 0;
  constructor(
    readonly location: string,
    readonly backend: Backend | undefined,
    public failure: unknown,
  ) {}
}

export class MirrorBackend implements Backend {
  readonly location: string;
  private readonly members: Member[];

  constructor(
    members: readonly MirrorMember[],
    private readonly options: MirrorOptions,
  ) {
    this.members = members.map((m) => new Member(m.location, 'backend' in m ? m.backend : undefined, 'failure' in m ? m.failure : undefined));
    this.location = members.map((m) => m.location).join(' + ');
    if (this.live().length === 0) throw this.members[0]?.failure;
  }

  report(): MemberReport[] {
    return this.members.map((m) => ({
      location: m.location,
      objectsWritten: m.objectsWritten,
      bytesWritten: m.bytesWritten,
      ...(m.failure === undefined ? {} : { failure: describeError(m.failure) }),
    }));
  }

  private live(): (Member & { backend: Backend })[] {
    return this.members.filter((m): m is Member & { backend: Backend } => m.failure === undefined && m.backend !== undefined);
  }

  /** Sets a member aside, or fails the run when failures are not tolerated or none is left. */
  private fail(member: Member, error: unknown): void {
    if (!this.options.tolerateFailures) throw error;
    member.failure = error;
    if (this.live().length === 0) throw error;
    this.options.onWarning(`${member.location} failed and is left out for the rest of this run: ${describeError(error)}`);
  }

  /** Runs operation on every live member at once; undefined stands for a member that failed. */
  private async onEach<T>(operation: (backend: Backend, member: Member) => Promise<T>): Promise<(T | undefined)[]> {
    const members = this.live();
    const settled = await Promise.allSettled(members.map((member) => operation(member.backend, member)));
    return settled.map((result, index) => {
      if (result.status === 'fulfilled') return result.value;
      this.fail(members[index] as Member, result.reason);
      return undefined;
    });
  }

  /** True only when every live member has the object, so that writers fill in a member that lacks it. */
  async has(key: string): Promise<boolean> {
    return (await this.onEach((backend) => backend.has(key))).every((has) => has !== false);
  }

  async hasMany(keys: readonly string[]): Promise<boolean[]> {
    const perMember = await this.onEach((backend) => hasObjects(backend, keys));
    return keys.map((_, index) => perMember.every((has) => has?.[index] !== false));
  }

  get(key: string): Promise<Buffer> {
    return this.read(key, (bytes) => bytes);
  }

  async read<T>(key: string, open: ObjectOpener<T>): Promise<T> {
    const passedOver: { location: string; error: unknown }[] = [];
    for (const member of this.live()) {
      let bytes: Buffer;
      try {
        bytes = await member.backend.get(key);
      } catch (error) {
        if (error instanceof ObjectNotFoundError) passedOver.push({ location: member.location, error });
        else this.fail(member, error);
        continue;
      }
      try {
        const value = await open(bytes);
        for (const { location, error } of passedOver) {
          this.options.onWarning(`${key} on ${location}: ${describeError(error)}; read it from ${member.location} instead`);
        }
        return value;
      } catch (error) {
        // A problem with this copy of the object, not with the whole member: the next copy may be good.
        if (!isDamagedObject(error)) throw error;
        passedOver.push({ location: member.location, error });
      }
    }
    throw passedOver[0]?.error ?? new ObjectNotFoundError(key);
  }

  /** Writes to every live member; false when any member already had the object (names stay exclusive). */
  async put(key: string, data: Uint8Array): Promise<boolean> {
    const [created] = await this.storeOnEach([{ key, data }], async (backend) => [await backend.put(key, data)]);
    return created as boolean;
  }

  /**
   * Each member stores the batch its own way (putObjects). The same buffers go to every
   * member, so none may take them (PutOptions.handOver is not passed on).
   */
  putMany(objects: readonly NewObject[]): Promise<boolean[]> {
    return this.storeOnEach(objects, (backend) => putObjects(backend, objects));
  }

  /** Counts what each member created; an object counts as created when every member created it. */
  private async storeOnEach(objects: readonly NewObject[], store: (backend: Backend) => Promise<boolean[]>): Promise<boolean[]> {
    const perMember = await this.onEach(async (backend, member) => {
      const made = await store(backend);
      made.forEach((created, index) => {
        if (!created) return;
        member.objectsWritten++;
        member.bytesWritten += (objects[index] as NewObject).data.length;
      });
      return made;
    });
    return objects.map((_, index) => perMember.every((made) => made?.[index] !== false));
  }

  /** The union of every live member's objects, each key once. */
  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.union((backend) => backend.list(prefix));
  }

  /** The union of the members' temporaries; delete() removes each from whichever holds it. */
  temporaries(): AsyncIterable<DatedObject> {
    return this.union((backend) => backend.temporaries?.() ?? []);
  }

  private async *union<T extends ObjectInfo>(listOf: (backend: Backend) => AsyncIterable<T> | Iterable<T>): AsyncIterable<T> {
    const seen = new Set<string>();
    for (const member of this.live()) {
      try {
        for await (const info of listOf(member.backend)) {
          if (seen.has(info.key)) continue;
          seen.add(info.key);
          yield info;
        }
      } catch (error) {
        this.fail(member, error);
      }
    }
  }

  async delete(key: string): Promise<void> {
    await this.onEach((backend) => backend.delete(key));
  }

  async readNotes(notes: BackendNotes): Promise<void> {
    await this.onEach(async (backend) => backend.readNotes?.(notes));
  }

  async writeNotes(notes: BackendNotes): Promise<void> {
    await this.onEach(async (backend) => backend.writeNotes?.(notes));
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((m) => m.backend?.close?.()));
  }
}
