import { createConnection, createServer } from 'node:net'

/**
 * Free ports and Redis liveness, shared by the tests, the bench and the soak script (which reads the
 * compiled copy in dist/). The service uses only freePort, for PORT=0 (server.ts).
 */

/**
 * A free port on `host`: probe, close, hand over. Another process may take it between the close and
 * the listen that follows; that listen then fails with EADDRINUSE (the small race is accepted).
 */
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
