import { describe, expect, it } from 'vitest'
import { Problem } from '../../../src/errors/problem.js'
import { ConnectionAuthorization } from '../../../src/gateway/connection-authorization.js'
import type { GatewayContext, RuntimeRequest } from '../../../src/gateway/context.js'
import { newContext } from '../../../src/gateway/pipeline.js'
import type { RecordCache } from '../../../src/gateway/record-cache.js'
import { keyRecord } from '../../helpers/records.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** What ConnectionAuthorization reads of the record cache: change listeners and whether the feed is live. */
const liveRecords = { onChange: () => () => undefined, live: true } as unknown as RecordCache

describe('ConnectionAuthorization: the key\'s own deadlines', () => {
  it('a re-check judged just before a generation\'s grace ends, and finished after it, still arms the check at that end', async () => {
    const now = Date.now()
    const graceEnd = now + 40
    const issued = new Date(now).toISOString()
    // Connected with generation 1 and no deadline; a rotation then gives generation 1 a 40 ms grace.
    const before = keyRecord('alpha', { credentials: [{ generation: 1, token_digest: 'old', signing_secret_enc: null, created_at: issued, expires_at: null }] })
    const rotated: typeof before = {
      ...before,
      credentials: [
        { generation: 1, token_digest: 'old', signing_secret_enc: null, created_at: issued, expires_at: new Date(graceEnd).toISOString() },
        { generation: 2, token_digest: 'new', signing_secret_enc: null, created_at: issued, expires_at: null },
      ],
    }
    const ctx: GatewayContext = { ...newContext({} as RuntimeRequest, 'connect', now), key: before, proof: { tokenGeneration: 1 } }
    let calls = 0
    const ended: Problem[] = []
    const watch = new ConnectionAuthorization(ctx, {
      records: liveRecords,
      // The re-check the rotation triggers reads the rotated key and judges at its start (generation 1
      // still live), but answers after the grace ended, as a store read on a busy Redis may; every
      // later one finds generation 1 gone.
      recheck: async (c) => {
        calls++
        c.key = rotated
        if (calls === 1) {
          await sleep(graceEnd - c.now + 30)
          return undefined
        }
        return c.now >= graceEnd ? new Problem('invalid_key') : undefined
      },
    }, (problem) => ended.push(problem))
    try {
      await sleep(20) // the rotation's change arrives 20 ms before the grace ends
      expect(await watch.check()).toBeUndefined()
      await expect.poll(() => ended.map((p) => p.reason), { timeout: 5000 }).toEqual(['invalid_key'])
    } finally {
      watch.close()
    }
  })
})
