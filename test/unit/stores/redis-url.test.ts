import { describe, expect, it } from 'vitest'
import { parseRedisUrl } from '../../../src/stores/redis/url.js'
import { RedisKeys, SLOTS, keySlot, slotTag } from '../../../src/stores/redis/keys.js'

describe('parseRedisUrl', () => {
  it('keeps a standalone URL as it is', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2')).toEqual({ layout: 'standalone', url: 'redis://127.0.0.1:6379/2' })
    expect(parseRedisUrl('rediss://u:p@h')).toEqual({ layout: 'standalone', url: 'rediss://u:p@h' })
  })
  it('reads a cluster seed list, credentials, TLS, IPv6 and the default port', () => {
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002/')).toEqual({
      layout: 'cluster', tls: false, seeds: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 6379 }, { host: '::1', port: 7002 }],
    })
    expect(parseRedisUrl('rediss+cluster://svc:p%40ss@h:1')).toEqual({ layout: 'cluster', tls: true, seeds: [{ host: 'h', port: 1 }], username: 'svc', password: 'p@ss' })
    expect(parseRedisUrl('redis+cluster://secret@h:1')).toMatchObject({ password: 'secret' })
  })
  it('refuses what it cannot read, without echoing a password', () => {
    expect(() => parseRedisUrl('redis+cluster://u:hunter2@h:1/3')).toThrow(/no database/)
    expect(() => parseRedisUrl('redis+cluster://u:hunter2@h:1/3')).not.toThrow(/hunter2/)
    expect(() => parseRedisUrl('redis+cluster://h:0')).toThrow(/host:port/)
    expect(() => parseRedisUrl('redis+cluster://')).toThrow(TypeError)
    expect(() => parseRedisUrl('http://h')).toThrow(TypeError)
  })
})

describe('RedisKeys', () => {
  const cluster = new RedisKeys('m:', 'cluster')
  const standalone = new RedisKeys('m:', 'standalone')

  it('keeps the standalone names of earlier versions', () => {
    expect([standalone.inbox('bob'), standalone.nonce('bob', 'mk1', 'n'), standalone.epochFor('bob'), standalone.idempotency('bob', 'al', 'k'), standalone.controlPrefix()])
      .toEqual(['m:inbox:bob', 'm:nonce:mk1:n', 'm:replay-epoch', 'm:idempotency:al:k', 'm:'])
  })
  it('puts everything an accept for one recipient touches in that recipient\'s slot', () => {
    for (const to of ['bob', 'alice', 'x.y-z_1', '0']) {
      const names = [cluster.inbox(to), cluster.inboxIds(to), cluster.inboxDue(to), cluster.inboxUsage(to), cluster.arrivals(to),
        cluster.idempotency(to, 'sender', 'key'), cluster.nonce(to, 'mkabc', 'nonce'), cluster.epochFor(to), cluster.runIdFor(to)]
      expect(new Set(names.map((name) => keySlot(name))).size, to).toBe(1)
    }
  })
  it('spreads recipients over slots, and the control records into one', () => {
    expect(new Set(['a', 'b', 'c', 'd'].map((m) => keySlot(cluster.inbox(m)))).size).toBe(4)
    expect(keySlot(`${cluster.controlPrefix()}mecha:a`)).toBe(keySlot(`${cluster.controlPrefix()}audit-events`))
  })
  it('has a tag for every slot, hashing to it', () => {
    for (const slot of [0, 1, 5461, 10922, SLOTS - 1]) expect(keySlot(cluster.slotEpoch(slot))).toBe(slot)
    let wrong = 0
    for (let slot = 0; slot < SLOTS; slot++) if (keySlot(`{${slotTag(slot)}}`) !== slot) wrong++
    expect(wrong).toBe(0)
  })
  it('reads the recipient back from an arrivals channel', () => {
    expect(cluster.arrivalsRecipient(cluster.arrivals('bob'))).toBe('bob')
    expect(standalone.arrivalsRecipient(standalone.arrivals('bob'))).toBe('bob')
    expect(cluster.arrivalsRecipient('m:changes')).toBeUndefined()
  })
  it('refuses a prefix with braces on a cluster', () => {
    expect(() => new RedisKeys('a{b}:', 'cluster')).toThrow(/braces/)
  })
})
