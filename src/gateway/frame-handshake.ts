import { randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { MECHA_CHALLENGE_COMPONENT } from '../crypto/signature-base.js'
import { toProblem } from '../errors/handler.js'
import { Problem } from '../errors/problem.js'
import { frameHeader, parseAuthenticateFrame, type AuthenticateFrame } from '../frame-auth.js'
import type { GatewayContext, RuntimeRequest, StepResult } from './context.js'
import { newContext, type PipelineDeps } from './pipeline.js'
import { settleRefusal } from './refusal.js'
import { releaseAuthAttempt } from './steps/auth-failure-throttle.js'

export interface FrameHandshakeOptions {
  deps: PipelineDeps
  /** The table's steps of GET /v1/connect before its upgrade (PipelineAdapter.authenticateFrame). */
  authenticate(ctx: GatewayContext): StepResult | Promise<StepResult>
  /** How long the client has, from the challenge, to send its authenticate frame (MECHA_WS_AUTH_TIMEOUT_SECONDS). */
  timeoutMs: number
}

const CHALLENGE_BYTES = 32
const POLICY_VIOLATION = 1008
const INTERNAL_ERROR = 1011

/**
 * The handshake of a WebSocket that authenticates in its first frame (docs/protocol.md,
 * "Authenticating in the first frame"). The server sends a challenge of 32 random bytes; the client
 * answers within the deadline with one authenticate frame; the frame, read through the header names
 * of the header path (frameHeader) with `mecha-challenge` reading this socket's challenge, runs the
 * same pipeline steps as an upgrade with headers. Nothing is pushed and no other frame is accepted
 * before it passed. A refusal is an `error` frame (the problem+json body of the same refusal over
 * HTTP, `type` aside) and then close 1008 with the reason (1011 for a fault); it costs what the same
 * HTTP refusal costs (refusal.ts): a 401 before the credential verified counts against the address.
 *
 * Until the frame arrives the socket holds the unauthenticated attempt the upgrade was admitted with
 * (steps/frame-handshake.ts); the frame's own admission takes its place. Resolves with the
 * authenticated context, or undefined when the socket was refused or went away.
 */
export function authenticateByFrame(socket: WebSocket, request: FastifyRequest, upgrade: GatewayContext, options: FrameHandshakeOptions): Promise<GatewayContext | undefined> {
  const { deps } = options
  return new Promise((resolve) => {
    const challenge = randomBytes(CHALLENGE_BYTES).toString('base64url')
    let state: 'awaiting' | 'verifying' | 'done' = 'awaiting'

    const finish = (ctx: GatewayContext | undefined): void => {
      state = 'done'
      clearTimeout(deadline)
      socket.off('message', onMessage)
      socket.off('close', onClose)
      resolve(ctx)
    }
    const send = (problem: Problem, ctx: GatewayContext): void => {
      request.log.info({ reason: problem.reason, cause: problem.internal, key_id: ctx.credentials?.keyId }, 'websocket authentication refused')
      if (socket.readyState !== socket.OPEN) return
      socket.send(JSON.stringify(errorFrame(problem, request.id)))
      socket.close(problem.status >= 500 ? INTERNAL_ERROR : POLICY_VIOLATION, problem.reason)
    }
    /** Settle what the refusal costs on `ctx`, then answer it (unless the socket is no longer ours to answer). */
    const refuse = (problem: Problem, ctx: GatewayContext, answer: boolean): void => {
      const settled = settleRefusal(ctx, deps, problem, request.log)
      const answered = (p: Problem): void => { if (answer) send(p, ctx) }
      if (settled instanceof Promise) settled.then(answered, (err: unknown) => answered(toProblem(err).problem))
      else answered(settled)
    }
    const fault = (err: unknown, ctx: GatewayContext, answer: boolean): void => {
      releaseAuthAttempt(ctx)
      const { problem } = toProblem(err)
      request.log.error({ err, reason: problem.reason }, 'websocket authentication failed')
      if (answer) send(problem, ctx)
    }

    const verify = (frame: AuthenticateFrame): void => {
      state = 'verifying'
      clearTimeout(deadline)
      // The frame is admitted by its own `auth-failure-throttle` step, with its key id: it takes this place.
      releaseAuthAttempt(upgrade)
      const ctx = newContext(new FrameRuntimeRequest(upgrade.request, frame, challenge), 'connect', Date.now())
      const settle = (problem: StepResult): void => {
        const answer = state === 'verifying'
        if (problem !== undefined) {
          refuse(problem, ctx, answer)
          if (answer) finish(undefined)
        } else if (answer) {
          finish(ctx)
        }
      }
      let result: StepResult | Promise<StepResult>
      try {
        result = options.authenticate(ctx)
      } catch (err) {
        fault(err, ctx, true)
        finish(undefined)
        return
      }
      if (result instanceof Promise) {
        result.then(settle, (err: unknown) => {
          const answer = state === 'verifying'
          fault(err, ctx, answer)
          if (answer) finish(undefined)
        })
      } else {
        settle(result)
      }
    }

    function onMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
      if (state === 'verifying') {
        // The run goes on and settles its own costs; this socket is refused now.
        send(new Problem('invalid_request', 'send nothing after the authenticate frame until the ready frame'), upgrade)
        finish(undefined)
        return
      }
      if (state !== 'awaiting') return
      const parsed = parseAuthenticateFrame(isBinary ? undefined : data.toString())
      if (parsed.ok) {
        verify(parsed.frame)
        return
      }
      refuse(new Problem(parsed.reason, parsed.detail), upgrade, true)
      finish(undefined)
    }
    function onClose(): void {
      // The client went away before it authenticated (an aborted request): the place is given back, nothing counted.
      if (state === 'awaiting') releaseAuthAttempt(upgrade)
      finish(undefined)
    }

    const timeoutSeconds = Math.ceil(options.timeoutMs / 1000)
    const deadline = setTimeout(() => {
      if (state !== 'awaiting') return
      refuse(new Problem('missing_credentials', `no authenticate frame within ${timeoutSeconds} s of the challenge (MECHA_WS_AUTH_TIMEOUT_SECONDS)`), upgrade, true)
      finish(undefined)
    }, options.timeoutMs)
    deadline.unref()
    socket.on('message', onMessage)
    socket.on('close', onClose)
    socket.send(JSON.stringify({ type: 'challenge', challenge, expires_in: timeoutSeconds }))
  })
}

/** The handshake's refusal frame: the problem+json body the same refusal gets over HTTP, with `type` "error". */
function errorFrame(problem: Problem, requestId: string): Record<string, unknown> {
  const { type: _problemType, ...body } = problem.toBody(requestId)
  return { type: 'error', ...body }
}

/**
 * What the steps see of an authenticate frame: the upgrade request, with the frame's credentials in
 * place of headers (no other header is read from anywhere) and `mecha-challenge` reading the
 * challenge this socket was sent, never anything the client sent.
 */
class FrameRuntimeRequest implements RuntimeRequest {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly body = undefined
  readonly json = undefined
  readonly bodyProblem = undefined
  readonly validationError = undefined
  readonly upgrade = true
  readonly challenge: string
  readonly #upgrade: RuntimeRequest
  readonly #frame: AuthenticateFrame

  constructor(upgrade: RuntimeRequest, frame: AuthenticateFrame, challenge: string) {
    this.method = upgrade.method
    this.path = upgrade.path
    this.query = upgrade.query
    this.challenge = challenge
    this.#upgrade = upgrade
    this.#frame = frame
  }

  header(name: string): string | undefined {
    return name === MECHA_CHALLENGE_COMPONENT ? this.challenge : frameHeader(this.#frame, name)
  }

  headerCount(name: string): number {
    return this.header(name) === undefined ? 0 : 1
  }

  get clientAddress(): string {
    return this.#upgrade.clientAddress
  }

  get queryParams(): Readonly<Record<string, unknown>> {
    return this.#upgrade.queryParams
  }

  get signal(): AbortSignal {
    return this.#upgrade.signal
  }

  get connection(): RuntimeRequest['connection'] {
    return this.#upgrade.connection
  }
}
