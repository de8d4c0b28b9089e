import { AUDIT_TYPES } from '../model.js'

const AUDIT_TYPE_LIST = AUDIT_TYPES.join(', ')

const CONNECTION = `Connection options:
  --url URL           Control plane base URL (env MECHA_URL; default http://127.0.0.1:8080)
  --token-file PATH   Read the operator token from PATH (default: env MECHA_OPERATOR_TOKEN)
  --json              Print the JSON response body on stdout
  -h, --help          Show this help

The operator token is never accepted as a flag value: command lines are visible to
other users (ps, /proc). Set MECHA_OPERATOR_TOKEN or use --token-file.
`

function command(synopsis: string, summary: string, options = ''): string {
  return `Usage: mecharim ${synopsis}\n\n${summary}\n\n${options === '' ? '' : `Options:\n${options}\n`}${CONNECTION}`
}

export const MAIN_USAGE = `Usage: mecharim <command> [options]

Commands:
  serve                 Start the control plane (configured by environment and .env)
  mechas add <id>       Register a mecha
  mechas list           List mechas
  mechas show <id>      Show a mecha
  mechas update <id>    Change a mecha's name, description, listing or accepted kinds
  mechas remove <id>    Deactivate a mecha: its keys stop working
  mechas dead-letters <id>  List a mecha's dead letters, or redrive them
  keys issue <mecha>    Issue a Mecha key (its token is shown once)
  keys list <mecha>     List a mecha's keys
  keys show <key id>    Show a key
  keys update <key id>  Change a key's label, permissions, signature policy, expiry or rate limit
  keys revoke <key id>  Revoke a key
  keys rotate <key id>  Replace a key's token and signing secret
  modes list            List the session modes (open: no operator token needed)
  modes put <name>      Create or replace a session mode
  modes remove <name>   Delete a session mode
  audit                 Show the audit trail: who did what, newest first
  keygen                Generate an Ed25519 key pair for signing runtime requests
  send <to> <kind>      Send a message as a runtime
  listen                Print the messages delivered to a runtime, one JSON line each
  whoami                Show the runtime key as the gateway sees it
  inbox nack <id>...    Deliver delivered messages again (now or after a delay), as a runtime
  inbox extend <id>...  Keep delivered messages invisible longer
  inbox reject <id>...  Move delivered messages to the dead letters now
  inbox dead            List the runtime's dead letters
  inbox redrive <id>... Move dead letters back to the inbox
  inbox purge <id>...   Remove dead letters
  sessions start        Start a session in a mode with other mechas, as a runtime
  sessions list         List the runtime's sessions, newest first
  sessions show <id>    Show a session
  sessions send <id> <kind>  Send a message within a session, as a runtime
  sessions commit <id>  Close a session with an outcome (its initiator only)
  sessions cancel <id>  Close a session without an outcome (its initiator only)
  help [command]        Show help for a command

${CONNECTION}
send, listen, whoami, inbox and sessions act as a runtime: they take a Mecha key from MECHA_TOKEN,
MECHA_KEY_ID, MECHA_SIGNING_SECRET and MECHA_PRIVATE_KEY_FILE (see \`mecharim help send\`).

Exit codes: 0 success, 1 the request failed, 2 the command line is wrong.
`

export const SERVE_USAGE = `Usage: mecharim serve

Start the control plane. It is configured by environment variables (and a .env file in
the working directory); see the README. Without operator tokens configured, a development
token is generated and printed once on stderr.

Options:
  -h, --help   Show this help
`

export const MECHAS_USAGE = `Usage: mecharim mechas <add|list|show|update|remove|dead-letters> [options]

  mechas add <id>       Register a mecha
  mechas list           List mechas
  mechas show <id>      Show a mecha
  mechas update <id>    Change a mecha's name, description, listing or accepted kinds
  mechas remove <id>    Deactivate a mecha: its keys stop working
  mechas dead-letters <id>  List a mecha's dead letters, or redrive them (--redrive ID)

Run \`mecharim mechas <command> --help\` for a command's options.
`

export const KEYS_USAGE = `Usage: mecharim keys <issue|list|show|update|revoke|rotate> [options]

  keys issue <mecha>    Issue a Mecha key (its token is shown once)
  keys list <mecha>     List a mecha's keys
  keys show <key id>    Show a key
  keys update <key id>  Change a key's label, permissions, signature policy, expiry or rate limit
  keys revoke <key id>  Revoke a key
  keys rotate <key id>  Replace a key's token and signing secret

Run \`mecharim keys <command> --help\` for a command's options.
`

export const MODES_USAGE = `Usage: mecharim modes <list|put|remove> [options]

  modes list            List the session modes (open: no operator token needed)
  modes put <name>      Create or replace a session mode
  modes remove <name>   Delete a session mode

A mode names a session protocol and the message kinds it uses; it is descriptive and
grants nothing. Run \`mecharim modes <command> --help\` for a command's options.
`

const RUNTIME = `Runtime options:
  --url URL                    Gateway base URL (env MECHA_URL; default http://127.0.0.1:8080)
  --signing-secret-file PATH   Read the HMAC signing secret from PATH (instead of MECHA_SIGNING_SECRET)
  --private-key-file PATH      Read the Ed25519 private key from PATH (default: env MECHA_PRIVATE_KEY_FILE)
  --dev-sender ID              Development only: act as mecha ID without a key (Mecha-Dev-Sender); the
                               gateway must run with MECHA_ALLOW_DEV_SENDER_HEADER=1
  -h, --help                   Show this help

Credentials (a Mecha key) come from the environment:
  MECHA_TOKEN              the key's token: sent as \`Authorization: Mecha <token>\`
  MECHA_KEY_ID             the key id: needed to sign without a token
  MECHA_SIGNING_SECRET     sign with hmac-sha256 (or --signing-secret-file PATH)
  MECHA_PRIVATE_KEY_FILE   sign with ed25519, the key written by \`mecharim keygen\`
Give a token, a signing credential, or both (both are then sent). Secrets are never
accepted as flag values: command lines are visible to other users (ps, /proc).
`

function runtimeCommand(synopsis: string, summary: string, options = ''): string {
  return `Usage: mecharim ${synopsis}\n\n${summary}\n\n${options === '' ? '' : `Options:\n${options}\n`}${RUNTIME}`
}

export const INBOX_USAGE = `Usage: mecharim inbox <nack|extend|reject|dead|redrive|purge> [options]

  inbox nack <id>...      Deliver delivered messages again, after --delay S (default: the backoff)
  inbox extend <id>...    Keep delivered messages invisible for --seconds S more
  inbox reject <id>...    Move delivered messages to the dead letters now (reason rejected)
  inbox dead              List the runtime's dead letters
  inbox redrive <id>...   Move dead letters back to the inbox (same id, delivery count afresh)
  inbox purge <id>...     Remove dead letters

They act as a runtime, with the Mecha key from the environment (see \`mecharim help send\`),
on the key's own mecha's messages only: ids of messages that are not delivered and
unacknowledged (or not dead letters) are ignored, and the counts say how many moved.
Run \`mecharim inbox <command> --help\` for a command's options.
`

export const SESSIONS_USAGE = `Usage: mecharim sessions <start|list|show|send|commit|cancel> [options]

  sessions start              Start a session in a mode with other mechas
  sessions list               List the runtime's sessions, newest first
  sessions show <id>          Show a session
  sessions send <id> <kind>   Send a message within a session
  sessions commit <id>        Close a session with an outcome (its initiator only)
  sessions cancel <id>        Close a session without an outcome (its initiator only)

They act as a runtime, with the Mecha key from the environment (see \`mecharim help send\`).
Every participant receives session.started, session.committed, session.cancelled and
session.expired in its inbox (\`mecharim listen\`); each message carries its session id.
Run \`mecharim sessions <command> --help\` for a command's options.
`

export const USAGE = {
  mechasAdd: command('mechas add <id> [options]', 'Register a mecha. Ids are 1-64 characters of a-z 0-9 - _ .', `  --name NAME          Display name
  --description TEXT   Description
  --listed             Publish a card in the public directory
  --accepts K1,K2      Message kinds the mecha accepts (globs; default *)
`),
  mechasList: command('mechas list [options]', 'List mechas, in id order.', `  --limit N    At most N mechas (1-500; default 100)
  --after ID   Start after this mecha id (the "next" cursor of the previous page)
`),
  mechasShow: command('mechas show <id> [options]', 'Show a mecha.'),
  mechasUpdate: command('mechas update <id> [options]', 'Change a mecha. Only the options given change; an empty value (--name "") clears a field.', `  --name NAME          Display name
  --description TEXT   Description
  --listed             Publish a card in the public directory
  --unlisted           Remove it from the public directory
  --accepts K1,K2      Message kinds the mecha accepts (globs)
Delivery policy (of messages to the mecha; unset fields keep the gateway's defaults):
  --max-deliveries N   Deliveries without an ack before a message is dead-lettered (1-1000)
  --backoff S1,S2,...  Extra seconds to wait before each redelivery, the last repeated
                       (at most 10; --backoff "" for none)
  --visibility S       Seconds a delivered message stays invisible before it is due again
  --dead-letter-ttl S  Seconds a dead letter is kept (60-2592000)
`),
  mechasDeadLetters: command('mechas dead-letters <id> [options]', `List a mecha's dead letters (keys:read), or, with --redrive, move dead letters back to
its inbox (keys:write; audited as mecha.dead_letters_redriven).`, `  --limit N      At most N (1-100; default 10)
  --after ID     Start after this message id (the "next" cursor of the previous page)
  --redrive ID   Redrive this dead letter (repeatable; not with --limit or --after)
`),
  mechasRemove: command('mechas remove <id> [options]', `Deactivate a mecha. This is final: every key of the mecha stops working at once.
The record and its audit history stay.`),
  keysIssue: command('keys issue <mecha> [options]', `Issue a Mecha key. The token (and the signing secret, with --sign hmac-sha256) is shown
once: the server keeps only a digest and cannot show it again.`, `  --label TEXT                    Label
  --ttl SECONDS                   Expire SECONDS from now
  --expires-at TIME               Expire at an RFC 3339 time (not with --ttl)
  --recipients A,B                Mecha ids the key may send to (globs; default *)
  --kinds X,Y                     Message kinds the key may send (globs; default *)
  --max-message-bytes N           Largest message body (default 65536)
  --sign ALG[,ALG]                Algorithms the key may sign with: hmac-sha256, ed25519
  --require-signature             Refuse unsigned requests
  --public-key B64URL             Ed25519 public key (repeatable; needs --sign ed25519)
  --rate-limit REQUESTS/SECONDS   Rate limit, e.g. 100/60
`),
  keysList: command('keys list <mecha> [options]', "List a mecha's keys (metadata only, never secrets)."),
  keysShow: command('keys show <key id> [options]', 'Show a key (metadata only, never secrets).'),
  keysUpdate: command('keys update <key id> [options]', `Change a key in place: its token and secrets stay the same. Only the options given change;
a list option replaces the list.`, `  --label TEXT                    Label (--label "" clears it)
  --ttl SECONDS                   Expire SECONDS from now
  --expires-at TIME               Expire at an RFC 3339 time
  --no-expiry                     Never expire
  --recipients A,B                Mecha ids the key may send to (globs)
  --kinds X,Y                     Message kinds the key may send (globs)
  --max-message-bytes N           Largest message body
  --sign ALG[,ALG]                Algorithms the key may sign with: hmac-sha256, ed25519
  --require-signature             Refuse unsigned requests
  --optional-signature            Accept unsigned requests again
  --public-key B64URL             Ed25519 public keys (repeatable; replaces the list)
  --rate-limit REQUESTS/SECONDS   Rate limit, e.g. 100/60
  --no-rate-limit                 Remove the rate limit
`),
  keysRevoke: command('keys revoke <key id> [options]', 'Revoke a key. This is final: its tokens and signing secrets stop working at once.'),
  keysRotate: command('keys rotate <key id> [options]', `Issue a new token (and signing secret, if the key signs with hmac-sha256) under the same
key id. The new secrets are shown once.`, `  --grace SECONDS   Keep the previous token and signing secret working this long (default 0: stop now)
`),
  modesList: command('modes list [options]', `List the session modes, by name (GET /v1/modes). Reading modes is open: the operator
token is sent when one is configured, and is not needed.`),
  modesPut: command('modes put <name> --kind KIND... [options]', `Create or replace a session mode (PUT /v1/modes/{name}, scope keys:write). A put replaces
the whole mode: kinds, description and version. Names are a-z first, then 0-63 of a-z 0-9 . _ -,
by convention <protocol>.v<N> (e.g. decision.v1). Every change is audited (mode.put).`, `  --kind KIND          A message kind of the protocol (repeatable, or a comma list; 1-64)
  --description TEXT   Description (omitted or "": none)
  --version N          The protocol's version (default: N of the name's .v<N> suffix)
`),
  modesRemove: command('modes remove <name> [options]', `Delete a session mode (DELETE /v1/modes/{name}, scope keys:write); audited (mode.deleted).
The server answers without a body: --json prints {"removed": "<name>"}.`),
  audit: command('audit [options]', 'Show the audit trail, newest first: who did what, to which mecha or key (needs the audit:read scope).', `  --type TYPE   Only events of TYPE: ${AUDIT_TYPE_LIST}
  --limit N     At most N events (1-500; default 100)
  --before ID   Events older than this one (the cursor the previous page printed)
`),
  keygen: `Usage: mecharim keygen [options]

Generate an Ed25519 key pair for signing runtime requests. The private key (its 32-byte
seed, base64url) is written to a new file readable only by you; an existing file is never
overwritten. The public key is printed: register it with
\`mecharim keys issue <mecha> --sign ed25519 --public-key=<public key>\`.

Options:
  --out PATH   Where to write the private key (default ./mecha-ed25519.key)
  --json       Print {"public_key", "private_key_file"} on stdout
  -h, --help   Show this help
`,
  send: runtimeCommand('send <to> <kind> [options]', `Send a message to the mecha <to> as the runtime whose key is configured. The gateway
sets the sender to the key's mecha.`, `  --payload JSON        The payload, a JSON value (default null)
  --payload-file PATH   Read the JSON payload from PATH
  --idempotency-key KEY Sent as the Idempotency-Key header: repeating the same send with the
                        same key returns the first acceptance and delivers once; the same
                        key with another message is refused (idempotency_key_reused)
  --reply-to ID         Id of the message this one answers
  --ttl SECONDS         Never delivered later than SECONDS after it is accepted (1-2592000);
                        then it is dead-lettered (reason expired)
  --deliver-after TIME  Not delivered before TIME: unix seconds or an RFC 3339 time (at most
                        7 days ahead)
  --no-receipts         No mecha.delivery.failed receipt if the message is dead-lettered
  --json                Print the acceptance as JSON
`),
  inboxNack: runtimeCommand('inbox nack <id>... [options]', `Deliver delivered, unacknowledged messages of the runtime's inbox again: visible after
--delay, or after the recipient's backoff without it. The delivery count goes on.`, `  --delay SECONDS   Visible again after SECONDS (0-43200; 0: at once)
  --json            Print the answer as JSON
`),
  inboxExtend: runtimeCommand('inbox extend <id>... --seconds S [options]', `Keep delivered, unacknowledged messages invisible until S seconds from now (at most
12 hours after their delivery), for work that takes longer than the visibility timeout.`, `  --seconds S   Invisible for S seconds from now (1-43200; required)
  --json        Print the answer as JSON
`),
  inboxReject: runtimeCommand('inbox reject <id>... [options]', `Move delivered, unacknowledged messages to the runtime's dead letters now (reason
rejected). Their senders get a mecha.delivery.failed receipt unless they opted out.`, `  --reason TEXT   Kept with the dead letter as its detail (at most 256 characters)
  --json          Print the answer as JSON
`),
  inboxDead: runtimeCommand('inbox dead [options]', 'List the runtime\'s dead letters, by message id.', `  --limit N    At most N (1-100; default 10)
  --after ID   Start after this message id (the "next" cursor of the previous page)
  --json       Print the page as JSON
`),
  inboxRedrive: runtimeCommand('inbox redrive <id>... [options]', 'Move dead letters back to the runtime\'s inbox: same id, delivery count afresh.', `  --json   Print the answer as JSON
`),
  inboxPurge: runtimeCommand('inbox purge <id>... [options]', 'Remove dead letters of the runtime\'s inbox.', `  --json   Print the answer as JSON
`),
  listen: runtimeCommand('listen [options]', `Print each message delivered to the runtime as one JSON line on stdout, until
interrupted (Ctrl-C). Messages arrive over a WebSocket, or with --poll by long-polling the
inbox. Unacknowledged messages are delivered again after the gateway's visibility timeout.
A lost connection is retried, and the WebSocket reconnects with fresh credentials when the
gateway asks it to (MECHA_WS_MAX_AGE_SECONDS); refused credentials, or a key revoked while
listening, end the command.`, `  --poll      Long-poll GET /v1/inbox instead of the WebSocket
  --ack       Acknowledge each message after printing it
  --limit N   Messages per poll (1-100; --poll only; default 10)
  --count N   Exit 0 after printing N messages (for scripts). Over the WebSocket, messages
              the gateway pushed beyond N are delivered again after its visibility timeout
`),
  sessionsStart: runtimeCommand('sessions start --mode M --participant ID... --ttl SECONDS [options]', `Start a session in the mode M, the key's mecha its initiator and a participant. Every
participant, the initiator included, is sent a session.started message. The key's
permissions.sessions must allow it (can_start, modes, max_open) and its recipients must
include each participant.`, `  --mode M            A mode from the registry (mecharim modes list)
  --participant ID    A mecha besides you (repeatable, or a comma list; 1-31)
  --ttl SECONDS       Expire SECONDS from now (10-604800)
  --intent TEXT       What the session is for (at most 1024 characters)
  --json              Print the session as JSON
`),
  sessionsList: runtimeCommand('sessions list [options]', 'List the sessions the key\'s mecha takes part in, newest first.', `  --state STATE   open, closed or all (default: the gateway's)
  --limit N       At most N sessions (1-100; default 50)
  --after ID      Start after this session (the cursor the previous page printed)
  --json          Print the JSON response body on stdout
`),
  sessionsShow: runtimeCommand('sessions show <id> [options]', 'Show a session the key\'s mecha takes part in (anyone else: unknown_session).', `  --json   Print the session as JSON
`),
  sessionsSend: runtimeCommand('sessions send <id> <kind> [options]', `Send a message of one of the session's kinds within the session: to one participant
(--to), or, without --to, one message to each other participant. The sender must be a
participant and the session open; the key's recipient and kind permissions still apply.`, `  --to ID               One participant (default: every other participant)
  --payload JSON        The payload, a JSON value (default null)
  --payload-file PATH   Read the JSON payload from PATH
  --reply-to ID         Id of the message this one answers
  --idempotency-key KEY Sent as the Idempotency-Key header (kept per recipient)
  --json                Print the acceptance as JSON
`),
  sessionsCommit: runtimeCommand('sessions commit <id> --outcome JSON [options]', `Close an open session with an outcome. Only its initiator may; every participant is
sent session.committed, and the session refuses messages from then on.`, `  --outcome JSON   The outcome, a JSON value (a string is quoted: '"approved"')
  --reason TEXT    Why (at most 1024 characters)
  --json           Print the session as JSON
`),
  sessionsCancel: runtimeCommand('sessions cancel <id> [options]', `Close an open session without an outcome. Only its initiator may; every participant is
sent session.cancelled.`, `  --reason TEXT   Why (at most 1024 characters)
  --json          Print the session as JSON
`),
  whoami: runtimeCommand('whoami [options]', 'Show the runtime key as the gateway sees it: mecha, permissions, how it was verified.', `  --json   Print the JSON response body on stdout
`),
} as const
