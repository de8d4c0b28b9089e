import type { KeyObject } from 'node:crypto'
import { fromBase64url } from '../crypto/encoding.js'
import type { SecretSealer } from '../crypto/sealed-secret.js'
import { ed25519PublicKeyObject } from '../crypto/verify-signature.js'
import { sealContext } from '../control-plane/service.js'
import type { KeyRecord } from '../model.js'
import { liveCredentials } from '../control-plane/key-view.js'

interface Material {
  digests: Map<number, Buffer>
  hmacKeys: Map<number, Uint8Array | null>
  ed25519: Ed25519Material[] | undefined
}

/** A token digest or an HMAC key, with the generation it belongs to (what a connection keeps as its proof). */
export interface GenerationMaterial<T> {
  generation: number
  value: T
}

export interface Ed25519Material {
  /** As registered: raw 32 bytes, unpadded base64url. */
  publicKey: string
  key: KeyObject
}

/**
 * Per-key verification material, derived once per cached key record: token digests as bytes, HMAC
 * keys opened from their AES-GCM seal (an unseal per request would cost more than the HMAC itself),
 * and parsed Ed25519 public keys. Keyed by the record object: when the record cache drops a record
 * (a change, a TTL), its material goes with it.
 */
export class KeyMaterial {
  readonly #sealer: SecretSealer
  readonly #cache = new WeakMap<KeyRecord, Material>()

  constructor(sealer: SecretSealer) {
    this.#sealer = sealer
  }

  /** Digests of the token secrets of every generation still live at `now`. */
  tokenDigests(key: KeyRecord, now: number): GenerationMaterial<Buffer>[] {
    const material = this.#material(key)
    return liveCredentials(key, now).map((c) => {
      let digest = material.digests.get(c.generation)
      if (digest === undefined) {
        digest = Buffer.from(c.token_digest, 'base64url')
        material.digests.set(c.generation, digest)
      }
      return { generation: c.generation, value: digest }
    })
  }

  /** HMAC keys (the UTF-8 bytes of each live generation's signing secret). */
  hmacKeys(key: KeyRecord, now: number): GenerationMaterial<Uint8Array>[] {
    const material = this.#material(key)
    const out: GenerationMaterial<Uint8Array>[] = []
    for (const c of liveCredentials(key, now)) {
      if (c.signing_secret_enc === null) continue
      let hmacKey = material.hmacKeys.get(c.generation)
      if (hmacKey === undefined) {
        const secret = this.#sealer.open(c.signing_secret_enc, sealContext(key.id, c.generation))
        hmacKey = secret === undefined ? null : Buffer.from(secret, 'utf8')
        material.hmacKeys.set(c.generation, hmacKey)
      }
      if (hmacKey !== null) out.push({ generation: c.generation, value: hmacKey })
    }
    return out
  }

  ed25519Keys(key: KeyRecord): Ed25519Material[] {
    const material = this.#material(key)
    material.ed25519 ??= key.public_keys.flatMap((publicKey) => {
      const raw = fromBase64url(publicKey)
      return raw === undefined ? [] : [{ publicKey, key: ed25519PublicKeyObject(raw) }]
    })
    return material.ed25519
  }

  #material(key: KeyRecord): Material {
    let material = this.#cache.get(key)
    if (material === undefined) {
      material = { digests: new Map(), hmacKeys: new Map(), ed25519: undefined }
      this.#cache.set(key, material)
    }
    return material
  }
}
