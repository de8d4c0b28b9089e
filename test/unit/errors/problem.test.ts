import { describe, expect, it } from 'vitest'
import { Problem } from '../../../src/errors/problem.js'

describe('Problem', () => {
  it('is a plain refusal value: no stack frames are captured (refusals on the hot path cost no stack trace)', () => {
    const problem = new Problem('invalid_key')
    expect(problem.stack?.split('\n').filter((line) => line.trim().startsWith('at '))).toEqual([])
    // ...and the process's own limit is left as it was: faults keep their stack traces.
    expect(new Error('fault').stack).toContain('\n    at ')
  })

  it('still renders its catalogue reason and detail', () => {
    expect(new Problem('bad_signature').toBody('req_1')).toMatchObject({ status: 401, reason: 'bad_signature', request_id: 'req_1' })
  })
})
