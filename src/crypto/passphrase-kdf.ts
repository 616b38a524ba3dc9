/**
 * The memory-hard KDF for keys made from passphrases (SPEC §2): argon2id (v1.3, through
 * hash-wasm, loaded only when a passphrase is used). Parameters read from a backend are
 * checked against fixed bounds before any work, so that a hostile file can demand at most
 * 1 GiB and a few minutes, never hours or more memory. Passphrases are NFC-normalised, so
 * the same text typed on different systems gives the same key.
 */
import { KeyError } from '../errors/index.js';

export interface KdfParams {
  /** Memory in KiB. */
  readonly memoryKiB: number;
  /** argon2's time cost: passes over the memory. */
  readonly passes: number;
  /** Lanes; Preserve writes 1 (hash-wasm computes lanes one after another anyway). */
  readonly parallelism: number;
}

const MIB = 1024;
export const KDF_BOUNDS = {
  memoryKiB: { min: 8 * MIB, max: 1024 * MIB },
  /** At 1 GiB a pass takes about 2 s on the 2-core reference machine: 128 passes stay within minutes. */
  passes: { min: 1, max: 128 },
  parallelism: { min: 1, max: 4 },
} as const;

/** Throws KeyError naming the first parameter outside its bounds; `source` names the file. */
export function checkKdfParams(params: KdfParams, source: string): void {
  for (const name of ['memoryKiB', 'passes', 'parallelism'] as const) {
    const { min, max } = KDF_BOUNDS[name];
    const value = params[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new KeyError(`${source} asks for argon2id ${name} = ${value}, outside the accepted ${min}..${max}; refusing it (the file may have been tampered with)`);
    }
  }
}

export async function deriveFromPassphrase(passphrase: string, salt: Uint8Array, params: KdfParams, length: number): Promise<Buffer> {
  checkKdfParams(params, 'the key derivation');
  const { argon2id } = await import('hash-wasm');
  const output = await argon2id({
    password: passphrase.normalize('NFC'),
    salt,
    memorySize: params.memoryKiB,
    iterations: params.passes,
    parallelism: params.parallelism,
    hashLength: length,
    outputType: 'binary',
  });
  return Buffer.from(output.buffer, output.byteOffset, output.byteLength);
}

/** How long one derivation with params takes here, in seconds. */
async function timeDerivation(params: KdfParams): Promise<number> {
  const started = performance.now();
  await deriveFromPassphrase('calibration', new Uint8Array(16), params, 32);
  return (performance.now() - started) / 1000;
}

/**
 * Parameters that take about targetSeconds on this machine: memory first (×4 per step up to
 * 1 GiB, while a step still leaves room for two passes), then passes, estimated from the
 * time of one and of two passes at that memory.
 */
export async function calibrateKdf(targetSeconds: number): Promise<KdfParams> {
  const { min, max } = KDF_BOUNDS.memoryKiB;
  let params: KdfParams = { memoryKiB: min, passes: 1, parallelism: 1 };
  let onePass = await timeDerivation(params);
  while (params.memoryKiB < max && onePass * 4 * 2 <= targetSeconds) {
    params = { ...params, memoryKiB: Math.min(max, params.memoryKiB * 4) };
    onePass = await timeDerivation(params);
  }
  if (onePass * 2 > targetSeconds) return params;
  const perPass = Math.max((await timeDerivation({ ...params, passes: 2 })) - onePass, onePass / 8);
  const passes = 1 + Math.floor((targetSeconds - onePass) / perPass);
  return { ...params, passes: Math.min(KDF_BOUNDS.passes.max, Math.max(1, passes)) };
}
