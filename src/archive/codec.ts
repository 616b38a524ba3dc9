/**
 * The byte-level building blocks of docs/FORMAT.md: unsigned LEB128 varints (up to
 * 2^53 - 1, the safe-integer range), zigzag signed varints, length-prefixed bytes and
 * UTF-8 strings, and fixed-length ids. The reader never reads past its input and throws
 * FormatError on anything malformed.
 */
import { FormatError } from '../errors/index.js';

const MAX_VARINT_BYTES = 8; // 8 × 7 bits = 56 bits ≥ 53

export class ByteWriter {
  private readonly parts: Buffer[] = [];
  private current = Buffer.allocUnsafe(4096);
  private used = 0;

  private reserve(length: number): void {
    if (this.used + length <= this.current.length) return;
    this.parts.push(this.current.subarray(0, this.used));
    this.current = Buffer.allocUnsafe(Math.max(4096, length));
    this.used = 0;
  }

  u8(value: number): this {
    this.reserve(1);
    this.current[this.used++] = value;
    return this;
  }

  varint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`);
    this.reserve(MAX_VARINT_BYTES);
    let rest = value;
    while (rest >= 0x80) {
      this.current[this.used++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.current[this.used++] = rest;
    return this;
  }

  /** Signed 64-bit values (times in nanoseconds) as zigzag varints. */
  bigSigned(value: bigint): this {
    let zigzag = value >= 0n ? value * 2n : -value * 2n - 1n;
    this.reserve(10);
    while (zigzag >= 0x80n) {
      this.current[this.used++] = Number(zigzag & 0x7fn) | 0x80;
      zigzag >>= 7n;
    }
    this.current[this.used++] = Number(zigzag);
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.current.set(bytes, this.used);
    this.used += bytes.length;
    return this;
  }

  bytes(bytes: Uint8Array): this {
    return this.varint(bytes.length).raw(bytes);
  }

  string(text: string): this {
    return this.bytes(Buffer.from(text, 'utf8'));
  }

  finish(): Buffer {
    return Buffer.concat([...this.parts, this.current.subarray(0, this.used)]);
  }
}

export class ByteReader {
  private offset = 0;

  /** `what` names the object in errors ("tree 3fa0…"). */
  constructor(
    private readonly input: Buffer,
    readonly what: string,
  ) {}

  fail(detail: string): never {
    throw new FormatError(this.what, `${detail} at byte ${this.offset}`);
  }

  get done(): boolean {
    return this.offset === this.input.length;
  }

  private take(length: number): Buffer {
    if (length > this.input.length - this.offset) this.fail(`${length} bytes wanted, ${this.input.length - this.offset} left`);
    const out = this.input.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u8(): number {
    return this.take(1)[0] as number;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const byte = this.u8();
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(value)) this.fail('varint beyond 2^53');
        if (byte === 0 && i > 0) this.fail('varint not in shortest form');
        return value;
      }
      scale *= 0x80;
    }
    return this.fail('varint too long');
  }

  /** A varint that must not exceed max; `what` names the field in the error. */
  varintUpTo(max: number, what: string): number {
    const value = this.varint();
    if (value > max) this.fail(`${what} ${value} exceeds ${max}`);
    return value;
  }

  bigSigned(): bigint {
    let zigzag = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const byte = this.u8();
      zigzag |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        const value = zigzag & 1n ? -(zigzag >> 1n) - 1n : zigzag >> 1n;
        if (value > 2n ** 63n - 1n || value < -(2n ** 63n)) this.fail('signed value beyond 64 bits');
        return value;
      }
    }
    return this.fail('signed varint too long');
  }

  raw(length: number): Buffer {
    return this.take(length);
  }

  /** Everything not yet read. */
  rest(): Buffer {
    return this.take(this.input.length - this.offset);
  }

  bytes(maxLength: number): Buffer {
    const length = this.varint();
    if (length > maxLength) this.fail(`field of ${length} bytes exceeds the limit of ${maxLength}`);
    return this.take(length);
  }

  string(maxLength: number): string {
    const bytes = this.bytes(maxLength);
    const text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) this.fail('string is not valid UTF-8');
    return text;
  }

  /** Asserts the whole input was consumed: trailing bytes mean a malformed object. */
  end(): void {
    if (!this.done) this.fail('unexpected trailing bytes');
  }
}
