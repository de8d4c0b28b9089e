/**
 * Ed25519 public keys whose private keys are published: RFC examples and this project's own worked
 * example. Anyone can sign with them, so a key that registers one is no better than a key without a
 * signature policy. The control plane refuses them in production (400 `known_test_key`) and accepts
 * them with a warning in development, where the worked example is meant to be tried.
 *
 * Each entry names its source and, where the source gives one, the private seed it publishes:
 * test/unit/crypto/known-test-keys.test.ts derives every public key from its seed, so the list cannot
 * hold a typo.
 */
export interface KnownTestKey {
  /** The raw 32-byte public key, unpadded base64url (the form `public_keys` takes). */
  readonly publicKey: string
  /** The published 32-byte private seed, unpadded base64url. */
  readonly seed: string
  /** Where it is published. */
  readonly source: string
}

export const KNOWN_TEST_KEYS: readonly KnownTestKey[] = [
  {
    // RFC 8032 section 7.1, TEST 1 (SECRET KEY 9d61b19d...7f60). docs/protocol.md "Worked example and
    // test vectors", test/vectors/mecha-v1.test.ts and the MCP signed-request example use it too.
    publicKey: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
    seed: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
    source: 'RFC 8032 section 7.1 TEST 1; docs/protocol.md worked example',
  },
  {
    // RFC 8032 section 7.1, TEST 2 (SECRET KEY 4ccd089b...a6fb).
    publicKey: 'PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw',
    seed: 'TM0Imyj_ltqdtsNG7BFOD1uKMZ81q6Yk2oz27U-4pvs',
    source: 'RFC 8032 section 7.1 TEST 2',
  },
  {
    // RFC 8032 section 7.1, TEST 3 (SECRET KEY c5aa8df4...58f7).
    publicKey: '_FHNjmIYoaONpH7QAjDwWAgW7RO6MwOsXeuRFUiQgCU',
    seed: 'xaqN9D-fg3vtt0QvMdy3sWbThTUHbwlLhc46LgtEWPc',
    source: 'RFC 8032 section 7.1 TEST 3',
  },
  {
    // RFC 9421 appendix B.1.4, `test-key-ed25519` (the PKCS#8 private key there holds this seed);
    // test/vectors/rfc9421.test.ts signs with it.
    publicKey: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs',
    seed: 'n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU',
    source: 'RFC 9421 appendix B.1.4 test-key-ed25519',
  },
]

const BY_PUBLIC_KEY: ReadonlyMap<string, KnownTestKey> = new Map(KNOWN_TEST_KEYS.map((k) => [k.publicKey, k]))

/** The published test key `publicKey` is (unpadded base64url, as registered), or undefined. */
export function knownTestKey(publicKey: string): KnownTestKey | undefined {
  if (typeof publicKey !== 'string') throw new TypeError(`expected publicKey to be a string, got ${typeof publicKey}`)
  return BY_PUBLIC_KEY.get(publicKey)
}
