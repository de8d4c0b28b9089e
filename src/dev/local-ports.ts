import { createConnection, createServer } from 'node:net'

/**
 * Development tooling shared by the tests, the bench and the soak script (which reads the compiled
 * copy in dist/): the service never imports this module.
 */

/** A free loopback port: probe, close, hand over (the small race between close and reuse is accepted). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      if (address === null || typeof address === 'string') {
        server.close()
        reject(new Error('could not read the port of a probe listener'))
        return
      }
      server.close(() => resolve(address.port))
    })
  })
}

/** Whether a Redis server answers PING on the loopback port within half a second. */
export async function answersPing(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port })
    let reply = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString()
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
  })
}
