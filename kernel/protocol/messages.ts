// Jupyter message shapes (messaging spec 5.5) shared by the wire, the dispatcher and the handlers.

export const PROTOCOL_VERSION = '5.5';

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  subshell_id?: string | null;
}

/** A decoded Jupyter message. `identities` are the ZeroMQ routing frames of the sender. */
export interface Message<C = Record<string, unknown>> {
  identities: Buffer[];
  header: Header;
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Buffer[];
}

/** What a handler or the kernel wants to send; the wire turns it into signed frames. */
export interface OutgoingMessage {
  identities?: Buffer[];
  msg_type: string;
  parent_header: Partial<Header>;
  content: unknown;
  metadata?: Record<string, unknown>;
  buffers?: Buffer[];
}

/** A mime bundle as carried by display_data / execute_result. */
export type MimeBundle = Record<string, unknown>;
