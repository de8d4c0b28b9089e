import { hash } from 'node:crypto'

/** One-shot SHA-256 (crypto.hash: no Hash object per call, which matters on the per-request path). */
export function sha256(data: string | Uint8Array): Buffer {
  return hash('sha256', data, 'buffer') as unknown as Buffer
}
