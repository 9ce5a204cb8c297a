// The Jupyter messaging spec (5.x) as checks on what a kernel sends: the message structure and each msg_type's
// content, as jupyter_kernel_test 0.4.5 checks them (its msgspec_v5.py, Debian's python3-jupyter-kernel-test),
// plus what the spec and nbformat say beyond it: an update_display_data names its display_id, an input_request's
// password is a boolean, and a bundle's entries are strings except under JSON mime types (nbformat rejects a
// notebook otherwise: nbconvert and papermill abort). The test client (kernel-client.ts) runs every message it
// receives through messageProblems, so every suite checks every message it sees.
import type { Message } from '../../kernel/protocol/messages';

/** Checks a value at a path (`content.data`), adding one line per problem. */
type Rule = (value: unknown, at: string, problems: string[]) => void;

const shown = (v: unknown): string => {
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

const typed = (name: string, test: (v: unknown) => boolean): Rule => (v, at, problems) => {
  if (!test(v)) problems.push(`${at} must be ${name}, got ${shown(v)}`);
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const str = typed('a string', (v) => typeof v === 'string');
const bool = typed('a boolean', (v) => typeof v === 'boolean');
const int = typed('an integer', (v) => Number.isInteger(v));
const anyObject = typed('an object', isObject);
const oneOf = (...values: unknown[]): Rule => typed(`one of ${values.map((v) => JSON.stringify(v)).join(', ')}`, (v) => values.includes(v));
const nullable = (rule: Rule): Rule => (v, at, problems) => {
  if (v !== null) rule(v, at, problems);
};

const arrayOf = (item: Rule, length?: number): Rule => (v, at, problems) => {
  if (!Array.isArray(v)) return void problems.push(`${at} must be an array, got ${shown(v)}`);
  if (length !== undefined && v.length !== length) problems.push(`${at} must have ${length} items, got ${v.length}`);
  v.forEach((x, i) => item(x, `${at}[${i}]`, problems));
};

/** An object with these fields (required unless listed in `optional`); other fields are allowed (spec 5.2 and later). */
const fields = (required: Record<string, Rule>, optional: Record<string, Rule> = {}): Rule => (v, at, problems) => {
  if (!isObject(v)) return void problems.push(`${at} must be an object, got ${shown(v)}`);
  for (const [name, rule] of Object.entries(required)) {
    if (!(name in v)) problems.push(`${at}.${name} is missing`);
    else rule(v[name], `${at}.${name}`, problems);
  }
  for (const [name, rule] of Object.entries(optional)) if (name in v && v[name] !== undefined) rule(v[name], `${at}.${name}`, problems);
};

/** jupyter_kernel_test's pattern for a mime type key. */
const MIME_TYPE = /^[\w\-+.]+\/[\w\-+.]+$/;
const JSON_MIME = /^application\/(.*\+)?json$/;

/** A mime bundle: an object of mime type → a string (or nbformat's list of strings), any JSON under a JSON type. */
const mimeBundle: Rule = (v, at, problems) => {
  if (!isObject(v)) return void problems.push(`${at} must be an object of mime type → value (a mime bundle), got ${shown(v)}`);
  for (const [mime, value] of Object.entries(v)) {
    if (!MIME_TYPE.test(mime)) problems.push(`${at} has a key that is not a mime type: ${JSON.stringify(mime)}`);
    else if (!JSON_MIME.test(mime) && typeof value !== 'string' && !(Array.isArray(value) && value.every((x) => typeof x === 'string'))) {
      problems.push(`${at}[${JSON.stringify(mime)}] must be a string, got ${shown(value)}`);
    }
  }
};

const traceback = arrayOf(str);
const output = { data: mimeBundle, metadata: anyObject };

/** Content of each IOPub and stdin message type, and of each reply's `ok` form. */
const CONTENT: Record<string, Rule> = {
  // IOPub
  status: fields({ execution_state: oneOf('busy', 'idle', 'starting') }),
  stream: fields({ name: oneOf('stdout', 'stderr'), text: str }),
  display_data: fields(output, { transient: fields({}, { display_id: str }) }),
  update_display_data: fields({ ...output, transient: fields({ display_id: str }) }),
  execute_result: fields({ execution_count: int, ...output }, { transient: anyObject }),
  execute_input: fields({ code: str, execution_count: int }),
  error: fields({ ename: str, evalue: str, traceback }),
  clear_output: fields({ wait: bool }),
  comm_open: fields({ comm_id: str, target_name: str, data: anyObject }, { target_module: nullable(str) }),
  comm_msg: fields({ comm_id: str, data: anyObject }),
  comm_close: fields({ comm_id: str, data: anyObject }),
  iopub_welcome: fields({ subscription: str }),
  // stdin
  input_request: fields({ prompt: str, password: bool }),
  // replies (status ok)
  execute_reply: fields({ status: oneOf('ok'), execution_count: int }, { payload: arrayOf(fields({}, { source: str })), user_expressions: anyObject }),
  inspect_reply: fields({ status: oneOf('ok'), found: bool, ...output }),
  complete_reply: fields({ status: oneOf('ok'), matches: arrayOf(str), cursor_start: int, cursor_end: int, metadata: anyObject }),
  history_reply: fields({ status: oneOf('ok'), history: arrayOf(arrayOf(() => undefined, 3)) }),
  is_complete_reply: fields({ status: oneOf('complete', 'incomplete', 'invalid', 'unknown') }, { indent: str }),
  connect_reply: fields({ shell_port: int, iopub_port: int, stdin_port: int, hb_port: int, control_port: int }),
  comm_info_reply: fields({ status: oneOf('ok'), comms: (v, at, problems) => {
    anyObject(v, at, problems);
    if (isObject(v)) for (const [id, comm] of Object.entries(v)) fields({ target_name: str })(comm, `${at}[${JSON.stringify(id)}]`, problems);
  } }),
  kernel_info_reply: fields(
    { status: oneOf('ok'), protocol_version: str, implementation: str, language_info: fields({ name: str }), banner: str },
    { implementation_version: str, debugger: bool, help_links: arrayOf(fields({ text: str, url: str })) },
  ),
  shutdown_reply: fields({ status: oneOf('ok'), restart: bool }),
  interrupt_reply: fields({ status: oneOf('ok') }),
};

/** A reply whose status is not ok: error carries the exception; an aborted request nothing more. */
const ERROR_REPLY = fields({ status: oneOf('error'), ename: str, evalue: str, traceback });

const HEADER = fields({ msg_id: str, username: str, session: str, msg_type: str, version: typed('a version like "5.3"', (v) => typeof v === 'string' && /^\d+\.\d+/.test(v)), date: typed('an ISO 8601 date', (v) => typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) });

/** What is wrong with a message a kernel sent, one line per problem; empty when it follows the spec. */
export function messageProblems(m: Pick<Message, 'header' | 'parent_header' | 'metadata' | 'content'>): string[] {
  const problems: string[] = [];
  HEADER(m.header, 'header', problems);
  anyObject(m.parent_header, 'parent_header', problems);
  anyObject(m.metadata, 'metadata', problems);
  anyObject(m.content, 'content', problems);
  if (problems.length > 0) return problems;
  const msgType = m.header.msg_type;
  const content = m.content as Record<string, unknown>;
  if (msgType.endsWith('_reply') && msgType !== 'is_complete_reply' && msgType !== 'connect_reply' && msgType !== 'input_reply') {
    const status = content.status;
    // 'aborted' is what ipykernel sends (and frontends look for) when stop_on_error skips a request; the spec says 'abort'
    if (status === 'error') return (ERROR_REPLY(content, 'content', problems), problems);
    if (status === 'abort' || status === 'aborted') return problems;
    if (status !== 'ok') return [`content.status must be "ok", "error" or "aborted", got ${shown(status)}`];
  }
  CONTENT[msgType]?.(content, 'content', problems);
  return problems;
}
