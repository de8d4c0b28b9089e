/**
 * The storage high-water mark (MECHA_STORAGE_HIGH_WATER): new messages are refused (503 `storage_full`)
 * once a store uses that share of the space it may use, so the rest stays free for what must keep
 * working when it is nearly full: nonce claims for reads, acks and whoami, the reads and acks
 * themselves (both write on either store), and control-plane writes such as a revocation. A store
 * that is full refuses every write: Redis under `noeviction` answers OOM to all of them, LMDB on a
 * full disk fails every commit.
 *
 * Only the transport's accept asks the mark; nothing else is refused by it.
 */

/** One reading of a store's space, in bytes. */
export interface StorageSample {
  /** What the store uses now. */
  used: number
  /** What it may use in all; 0 when it has no known limit (Redis without maxmemory): never over the mark. */
  capacity: number
}

/** What a transport asks before it stores a message, and tells after. */
export interface StoragePressure {
  /** True while new messages must be refused. Rejects when the store cannot be sampled (a fault). */
  refuses(): boolean | Promise<boolean>
  /** A message of `bytes` was stored: counted on top of the last sample until the next one. */
  stored(bytes: number): void
}

export const DEFAULT_STORAGE_HIGH_WATER = 0.9
/** A store is sampled at most this often (issue 10: at most once a second). */
export const SAMPLE_INTERVAL_MS = 1000

/** Whether `sample` is at or above `ratio` of its capacity. */
export function overHighWater(sample: StorageSample, ratio: number): boolean {
  return sample.capacity > 0 && sample.used >= ratio * sample.capacity
}

export interface HighWaterMarkOptions {
  /** The share of its capacity a store may use before new messages are refused, in (0, 1]. Default 0.9. */
  ratio?: number
  /** Sample at most this often. Default SAMPLE_INTERVAL_MS. */
  intervalMs?: number
  /** Unix ms. */
  now?: () => number
}

/**
 * A mark over one store, sampled lazily: the first accept after `intervalMs` waits for a new sample
 * (one read in flight, whoever asks), the others use the last one, so accepts cost no extra round
 * trip. Between samples the bytes this process stored are added to the last reading: a flood cannot
 * run past the mark for a whole interval (other processes' bytes show at the next sample, which is
 * what the headroom is for). A failed sample is not kept: the caller fails closed, and the next
 * accept samples again.
 */
export class HighWaterMark implements StoragePressure {
  readonly #read: () => Promise<StorageSample>
  readonly #ratio: number
  readonly #intervalMs: number
  readonly #now: () => number
  #sample: StorageSample | undefined
  #sampledAt = 0
  /** Bytes stored since the sample in force was asked for. */
  #storedSince = 0
  #sampling: Promise<boolean> | undefined

  /** @param read samples the store (INFO memory on Redis, page counts and statfs on LMDB). */
  constructor(read: () => Promise<StorageSample>, options: HighWaterMarkOptions = {}) {
    if (typeof read !== 'function') throw new TypeError(`expected read to be a function, got ${typeof read}`)
    const ratio = options.ratio ?? DEFAULT_STORAGE_HIGH_WATER
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1)) throw new RangeError(`expected ratio to be above 0 and at most 1, got ${ratio}`)
    const intervalMs = options.intervalMs ?? SAMPLE_INTERVAL_MS
    if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new RangeError(`expected intervalMs to be a non-negative number, got ${intervalMs}`)
    this.#read = read
    this.#ratio = ratio
    this.#intervalMs = intervalMs
    this.#now = options.now ?? Date.now
  }

  refuses(): boolean | Promise<boolean> {
    if (this.#sample !== undefined && this.#now() - this.#sampledAt < this.#intervalMs) return this.#over(this.#sample)
    this.#sampling ??= this.#resample()
    return this.#sampling
  }

  stored(bytes: number): void {
    if (Number.isFinite(bytes) && bytes > 0) this.#storedSince += bytes
  }

  #over(sample: StorageSample): boolean {
    return overHighWater({ used: sample.used + this.#storedSince, capacity: sample.capacity }, this.#ratio)
  }

  async #resample(): Promise<boolean> {
    const askedAt = this.#now()
    // Bytes stored while the sample is taken may or may not be in it: they stay counted (the safe side).
    const before = this.#storedSince
    try {
      const sample = checkSample(await this.#read())
      this.#sample = sample
      this.#sampledAt = askedAt
      this.#storedSince -= before
      return this.#over(sample)
    } finally {
      this.#sampling = undefined
    }
  }
}

function checkSample(sample: StorageSample): StorageSample {
  const valid = (n: unknown): boolean => typeof n === 'number' && Number.isFinite(n) && n >= 0
  if (typeof sample !== 'object' || sample === null || !valid(sample.used) || !valid(sample.capacity)) {
    throw new TypeError(`expected a storage sample { used, capacity } in bytes, got ${JSON.stringify(sample)}`)
  }
  return sample
}
