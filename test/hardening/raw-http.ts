import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http'

/**
 * A request as bytes on the wire, sent with node:http rather than fetch: an array header value becomes
 * repeated header lines, a string value goes out as latin1 (so `'\u00c3\u00a9'` is the UTF-8 bytes of
 * "é"), and the method and path are not normalised beyond what node:http itself does.
 */
/** Header values as sent: an array is several header lines; undefined is no header. */
export type RawHeaders = Record<string, string | string[] | undefined>

export interface RawRequest {
  method: string
  /** Path and query, exactly as sent. */
  url: string
  headers: RawHeaders
  body?: Buffer | string
}

export interface RawResponse {
  status: number
  contentType: string | undefined
  requestId: string | undefined
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any
  text: string
  ms: number
}

/** Send one request on a fresh connection (a 431 or 413 may close it) and read the whole answer. */
export function sendRaw(base: string, raw: RawRequest): Promise<RawResponse> {
  const url = new URL(base)
  const body = raw.body === undefined ? undefined : Buffer.from(raw.body)
  const headers: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(raw.headers)) if (value !== undefined) headers[name] = value
  if (body !== undefined && headers['content-length'] === undefined) headers['content-length'] = String(body.length)
  const started = performance.now()
  return new Promise((resolve, reject) => {
    let answered = false
    const req = httpRequest({ host: url.hostname, port: url.port, method: raw.method, path: raw.url, headers, agent: false }, (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown
        try {
          parsed = text === '' ? undefined : JSON.parse(text)
        } catch {
          parsed = undefined
        }
        const requestId = res.headers['x-request-id']
        resolve({
          status: res.statusCode ?? 0, contentType: res.headers['content-type'], requestId: typeof requestId === 'string' ? requestId : undefined,
          body: parsed, text, ms: performance.now() - started,
        })
      })
    })
    // The server may answer (413, 431) and close before the whole request is written: that is fine
    // once an answer has arrived.
    req.on('error', (err) => { if (!answered) reject(err) })
    if (body !== undefined) req.write(body)
    req.end()
  })
}
