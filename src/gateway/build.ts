import { ModeRegistry } from '../control-plane/modes.js'
import { DeadLetterEvents } from '../lifecycle/dead-letter-events.js'
import { effectiveDelivery } from '../lifecycle/delivery-policy.js'
import { withDeliveryPolicies } from '../lifecycle/policy-transport.js'
import { withFailureReceipts } from '../transport/receipts.js'
import type { Config } from '../config/schema.js'
import type { SecretSealer } from '../crypto/sealed-secret.js'
import { AuthFailureGuard } from '../ratelimit/auth-failures.js'
import type { Stores } from '../open-stores.js'
import { KeyMaterial } from './key-material.js'
import type { GatewayOptions } from './plugin.js'
import { RecordCache } from './record-cache.js'
import { SessionService } from '../sessions/service.js'

/** Unknown ids are remembered briefly, so that sprayed random key ids cost one store read per id per period. */
const NEGATIVE_CACHE_MS = 1000
const CACHE_ENTRIES = 100_000
/** Nonces outlive the window on both sides (a timestamp up to `window` in the future stays valid for 2 x window). */
const NONCE_MARGIN_SECONDS = 60

/**
 * Assemble the gateway's dependencies from the configuration and the stores. `deps.authFailures` is
 * the process's one failed-authentication guard: give the same one to operator authentication, so
 * guessing on either surface throttles the address on both.
 */
export function gatewayOptions(config: Config, stores: Pick<Stores, 'control' | 'changes' | 'replayCache' | 'transport' | 'rateLimiter' | 'sessions'>, sealer: SecretSealer, onError?: (err: unknown) => void): GatewayOptions & { close(): void } {
  const sessions = new SessionService(stores.sessions, stores.transport, { idempotencyTtlSeconds: config.idempotencyTtlSeconds, ...(onError !== undefined ? { onError } : {}) })
  // Every instance sweeps: closing an expired session is a compare-and-set, so only one tells its participants.
  sessions.startSweeper()
  const records = new RecordCache(stores.control, stores.changes, {
    ttlMs: config.keyCacheTtlSeconds * 1000, negativeTtlMs: Math.min(NEGATIVE_CACHE_MS, config.keyCacheTtlSeconds * 1000), maxEntries: CACHE_ENTRIES,
  })
  const deadLetterEvents = new DeadLetterEvents()
  return {
    deps: {
      records,
      material: new KeyMaterial(sealer),
      replayCache: stores.replayCache,
      windowSeconds: config.timestampWindowSeconds,
      maxFutureSkewSeconds: config.maxFutureSkewSeconds,
      allowDevSender: config.allowDevSenderHeader,
      bodyLimitBytes: config.bodyLimitBytes,
      audit: (event) => stores.control.appendAudit(event),
      publicAuthority: config.publicAuthority,
      nonceTtlSeconds: 2 * config.timestampWindowSeconds + NONCE_MARGIN_SECONDS,
      rateLimiter: stores.rateLimiter,
      authFailures: new AuthFailureGuard(stores.rateLimiter, {
        limit: config.authFailureLimit, windowSeconds: config.authFailureWindowSeconds, ipv6PrefixLength: config.authFailureIpv6Prefix,
        loopbackLimit: config.authFailureLoopbackLimit,
        // Development: say which variable to change (production keeps its limits to itself).
        ...(config.production ? {} : { hint: `; MECHA_AUTH_FAILURE_LIMIT allows ${config.authFailureLimit} per ${config.authFailureWindowSeconds} s (loopback ${config.authFailureLoopbackLimit}): raise it, or set 0 to turn the guard off, while you iterate` }),
      }),
    },
    // Each recipient's delivery policy on every read, and failure receipts for what is dead-lettered.
    transport: withFailureReceipts(
      withDeliveryPolicies(stores.transport, async (mecha) => effectiveDelivery((await records.getMecha(mecha))?.delivery, config.deliveryDefaults)),
      { idempotencyTtlSeconds: config.idempotencyTtlSeconds, onDeadLettered: (deadLetters) => deadLetterEvents.emit(deadLetters) },
    ),
    deadLetters: deadLetterEvents,
    visibilityMs: config.visibilityTimeoutSeconds * 1000,
    idempotencyTtlSeconds: config.idempotencyTtlSeconds,
    modes: new ModeRegistry(stores.control),
    sessions,
    close: () => {
      sessions.stopSweeper()
      records.close()
    },
  }
}
