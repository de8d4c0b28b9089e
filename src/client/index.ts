/**
 * `mecharim/client`: the runtime SDK. Portable (Node 20+, browsers, Deno, edge runtimes): fetch,
 * TextEncoder, crypto.getRandomValues and noble; no Node built-ins. See {@link MechaClient}.
 */
export { MechaClient } from './client.js'
export { MechaConnection, type DeliveredMessage } from './websocket.js'
export { MechaSession } from './session.js'
export { ConnectionRevokedError, MechaError, type MechaErrorInit, type ProblemBody } from './errors.js'
export { newNonce, signRequest, type RequestToSign } from './sign.js'
export type {
  AckResult, CallOptions, ConnectOptions, ConnectionReady, DeadLetter, DeadLetterOptions, DeadLetterPage, DeadLetterReason, ExtendResult, NackOptions, NackResult, PurgeResult, RedriveResult, RejectOptions, RejectResult, FetchLike, InboxOptions, MechaClientOptions, MechaCredentials, Message, MessageAccepted,
  OutgoingMessage, ReconnectingEvent, ReconnectOptions, SessionCancel, SessionCommit, SessionFanOutAccepted, SessionList, SessionListOptions, SessionMessage,
  SessionMessageAccepted, SessionOptions, SessionStart, SessionState, SessionView, FrameWebSocketConstructor, WebSocketAuth, WebSocketConstructor, WebSocketEventLike, WebSocketLike, WhoAmI,
} from './types.js'
