/**
 * The byte-level building blocks of docs/FORMAT.md: unsigned LEB128 varints (up to
 * 2^53 - 1, the safe-integer range), zigzag signed varints, length-prefixed bytes, UTF-8
 * strings and file names (any bytes), and fixed-length ids. The reader never reads past
 * its input and throws FormatError on anything malformed.
 */
import { isUtf8 } from 'node:buffer';
import { FormatError } from '../errors/index.js';
import { nameFromBytes, nameToBytes } from '../filenames/index.js';

const MAX_VARINT_BYTES = 8; // 8 × 7 bits = 56 bits ≥ 53
/**
 * 10 × 7 bits = 70 bits: signed values from −2^69 to 2^69 − 1. Times in nanoseconds need
 * more than 64 bits past the year 2262 (ext4 and XFS keep mtimes up to 2446 and 2486).
 */
const MAX_SIGNED_BYTES = 10;
/** The values a signed varint holds; zigzag maps them onto [0, 2^70). */
export const SIGNED_RANGE = { min: -(1n << 69n), max: (1n << 69n) - 1n } as const;
const LOW_28_BITS = (1n << 28n) - 1n;

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

  /** Signed values of up to 70 bits (times in nanoseconds) as zigzag varints. */
  bigSigned(value: bigint): this {
    if (value < SIGNED_RANGE.min || value > SIGNED_RANGE.max) throw new RangeError(`signed value beyond 70 bits: ${value}`);
    const zigzag = value >= 0n ? value * 2n : -value * 2n - 1n;
    this.reserve(MAX_SIGNED_BYTES);
    // The low 28 bits and the rest as two numbers, so that each byte costs number
    // arithmetic rather than two new BigInts (tree and cache records hold several
    // times per entry; the BigInt loop was 7 % of what create's main thread allocated).
    let low = Number(zigzag & LOW_28_BITS);
    let high = Number(zigzag >> 28n);
    while (high > 0 || low >= 0x80) {
      this.current[this.used++] = (low & 0x7f) | 0x80;
      low = (low >>> 7) | ((high % 0x80) << 21);
      high = Math.floor(high / 0x80);
    }
    this.current[this.used++] = low;
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

  /** A file name or symlink target: bytes, whatever they are (src/filenames). */
  name(name: string): this {
    return this.bytes(nameToBytes(name));
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

  /** Read in place: through take() each byte made a Buffer view (varints read byte by byte). */
  u8(): number {
    if (this.offset >= this.input.length) this.fail('1 byte wanted, 0 left');
    return this.input[this.offset++] as number;
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
    // As the writer: the first four groups (28 bits) and the rest (up to 42) as numbers.
    let low = 0;
    let high = 0;
    let highScale = 1;
    for (let i = 0; i < MAX_SIGNED_BYTES; i++) {
      const byte = this.u8();
      if (i < 4) low |= (byte & 0x7f) << (7 * i);
      else {
        high += (byte & 0x7f) * highScale;
        highScale *= 0x80;
      }
      if (byte < 0x80) {
        // Ten bytes cannot hold more than 70 bits, so every value read is in range.
        const zigzag = (BigInt(high) << 28n) | BigInt(low);
        return zigzag & 1n ? -(zigzag >> 1n) - 1n : zigzag >> 1n;
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
    return this.utf8(this.bytes(maxLength));
  }

  /** A file name or symlink target written by ByteWriter.name. */
  name(maxLength: number): string {
    return nameFromBytes(this.bytes(maxLength));
  }

  /** The text that bytes read from this input hold; they must be valid UTF-8. */
  utf8(bytes: Buffer): string {
    if (!isUtf8(bytes)) this.fail('string is not valid UTF-8');
    return bytes.toString('utf8');
  }

  /** Asserts the whole input was consumed: trailing bytes mean a malformed object. */
  end(): void {
    if (!this.done) this.fail('unexpected trailing bytes');
  }
}
