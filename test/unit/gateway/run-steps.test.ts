import { describe, expect, it } from 'vitest'
import { Problem } from '../../../src/errors/problem.js'
import type { GatewayContext, Step } from '../../../src/gateway/context.js'
import { runSteps, type GatewayDeps } from '../../../src/gateway/pipeline.js'

const ctx = { now: 0 } as unknown as GatewayContext
const deps = {} as GatewayDeps

function recorder(): { ran: string[]; step: (name: string, result?: Problem, async?: boolean) => Step<GatewayDeps> } {
  const ran: string[] = []
  return {
    ran,
    step: (name, result, async = false) => () => {
      ran.push(name)
      return async ? Promise.resolve(result) : result
    },
  }
}

describe('runSteps', () => {
  it('is synchronous while every step is: a plain value, no promise', () => {
    const r = recorder()
    expect(runSteps([r.step('a'), r.step('b')], ctx, deps)).toBeUndefined()
    expect(r.ran).toEqual(['a', 'b'])
  })

  it('stops at the first refusal, synchronously', () => {
    const r = recorder()
    const refusal = new Problem('invalid_key')
    expect(runSteps([r.step('a'), r.step('b', refusal), r.step('c')], ctx, deps)).toBe(refusal)
    expect(r.ran).toEqual(['a', 'b'])
  })

  it('continues after a step that returns a promise, and stops at a later refusal', async () => {
    const r = recorder()
    const refusal = new Problem('stale_timestamp')
    const result = runSteps([r.step('a'), r.step('b', undefined, true), r.step('c', refusal), r.step('d')], ctx, deps)
    expect(result).toBeInstanceOf(Promise)
    expect(r.ran).toEqual(['a', 'b'])
    expect(await result).toBe(refusal)
    expect(r.ran).toEqual(['a', 'b', 'c'])
  })

  it('passes a fault (a rejected step) on as a rejection', async () => {
    const fault = new Error('store down')
    await expect(runSteps([() => Promise.reject(fault)], ctx, deps)).rejects.toBe(fault)
  })
})
