import { generateKeyPairSync } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { HELP_OPTION, expectPositionals, parseCommand } from '../args.js'
import { CliError, printJson, printUsage, runCommand, type CommandIo } from '../command.js'
import { USAGE } from '../usage.js'

export const DEFAULT_KEY_FILE = './mecha-ed25519.key'

const KEYGEN_OPTIONS = { ...HELP_OPTION, out: { type: 'string' }, json: { type: 'boolean' } } as const

/**
 * `mecharim keygen`: an Ed25519 key pair for signing runtime requests. The private key (the 32-byte
 * seed, base64url, what the SDK's `privateKey` and MECHA_PRIVATE_KEY_FILE take) goes to a new file
 * readable by its owner only; the public key is printed, to be registered on a Mecha key.
 */
export function keygen(io: CommandIo): Promise<number> {
  return runCommand(io, USAGE.keygen, async () => {
    const { values, positionals } = parseCommand(io.argv, KEYGEN_OPTIONS)
    if (values.help === true) return printUsage(io, USAGE.keygen)
    expectPositionals(positionals, [])
    const path = values.out ?? DEFAULT_KEY_FILE
    const pair = generateKeyPairSync('ed25519')
    const seed = pair.privateKey.export({ format: 'jwk' }).d
    const publicKey = pair.publicKey.export({ format: 'jwk' }).x
    if (seed === undefined || publicKey === undefined) throw new Error('node:crypto exported an Ed25519 JWK without d or x')
    try {
      // `wx`: never replace an existing file (it may be the only copy of a registered key).
      await writeFile(path, `${seed}\n`, { mode: 0o600, flag: 'wx' })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error'
      if (code === 'EEXIST') throw new CliError(`${path} already exists: refusing to overwrite it (choose another --out PATH)`)
      throw new CliError(`cannot write the private key to ${path} (${code})`)
    }
    if (values.json === true) return printJson(io, { public_key: publicKey, private_key_file: path })
    // `=`: a base64url value may start with "-", which the option parser would take for a flag.
    io.stdout.write(`Wrote the Ed25519 private key to ${path} (mode 0600). Keep it secret; it is not recoverable.

public key  ${publicKey}

Register the public key on a key for your mecha:

  mecharim keys issue <mecha> --sign ed25519 --public-key=${publicKey}

then sign runtime requests with it: MECHA_KEY_ID=<key id> MECHA_PRIVATE_KEY_FILE=${path}
`)
    return 0
  })
}
