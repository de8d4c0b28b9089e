import { keyStatus, liveCredentials } from '../../control-plane/key-view.js'
import { Problem } from '../../errors/problem.js'
import type { KeyRecord, MechaRecord } from '../../model.js'
import type { RecordCache } from '../record-cache.js'
import { required, type GatewayContext, type Proof, type StepResult } from '../context.js'

/**
 * For a connection that authenticated earlier (a WebSocket, a parked long-poll): would a new request
 * with the same credential still be accepted? Reads the key and its mecha again (from the record
 * cache: no I/O in steady state) and holds them against what proved the connection:
 * - the key is live and its mecha active (as resolveKey), else `invalid_key`;
 * - the token generation that verified is still live (a rotation's grace ends it), else `invalid_key`;
 * - a policy that now requires a signature is met, else `signature_required`;
 * - the signature's algorithm is still registered, and its HMAC generation or Ed25519 public key is
 *   still there, else `bad_signature`.
 * The connection has proven its secret, so these answers may be precise.
 */
export function checkProof(ctx: GatewayContext, deps: { records: RecordCache }): StepResult | Promise<StepResult> {
  if (ctx.proof.devSender !== undefined) {
    const mecha = deps.records.getMecha(ctx.proof.devSender)
    const judge = (m: MechaRecord | undefined): StepResult => (m?.status === 'active' ? undefined : new Problem('invalid_key', 'the mecha was deactivated'))
    return mecha instanceof Promise ? mecha.then(judge) : judge(mecha)
  }
  const keyId = required(ctx.key, 'key').id
  const key = deps.records.getKey(keyId)
  const withKey = (k: KeyRecord | undefined): StepResult | Promise<StepResult> => {
    if (k === undefined) return new Problem('invalid_key', 'the key no longer exists')
    const judge = (m: MechaRecord | undefined): StepResult => {
      const problem = judgeProof(k, m, ctx.proof, ctx.now)
      if (problem === undefined) ctx.key = k
      return problem
    }
    const mecha = deps.records.getMecha(k.mecha)
    return mecha instanceof Promise ? mecha.then(judge) : judge(mecha)
  }
  return key instanceof Promise ? key.then(withKey) : withKey(key)
}

/** The rule itself, on plain records (unit-testable). */
export function judgeProof(key: KeyRecord, mecha: MechaRecord | undefined, proof: Proof, now: number): StepResult {
  const status = keyStatus(key, mecha, now)
  if (status !== 'active') return new Problem('invalid_key', status === 'mecha_inactive' ? 'the mecha was deactivated' : `the key is ${status}`)
  const live = liveCredentials(key, now)
  if (proof.tokenGeneration !== undefined && !live.some((c) => c.generation === proof.tokenGeneration)) {
    return new Problem('invalid_key', 'the key was rotated and the token this connection used is no longer valid')
  }
  const { signature } = proof
  if (signature === undefined) {
    if (key.signature.required) return new Problem('signature_required', `key ${key.id} now requires an RFC 9421 signature`)
    return undefined
  }
  if (!key.signature.algorithms.includes(signature.alg)) return new Problem('bad_signature', `alg ${signature.alg} is no longer registered on this key`)
  if (signature.generation !== undefined && !live.some((c) => c.generation === signature.generation && c.signing_secret_enc !== null)) {
    return new Problem('bad_signature', 'the key was rotated and the signing secret this connection used is no longer valid')
  }
  if (signature.publicKey !== undefined && !key.public_keys.includes(signature.publicKey)) {
    return new Problem('bad_signature', 'the public key this connection signed with was removed from the key')
  }
  return undefined
}
