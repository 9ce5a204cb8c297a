// The messaging-spec checks the test client runs on every message (test/support/message-schema.ts): valid
// messages pass, and each kind of breach is named with its path.
import { messageProblems } from '../support/message-schema';

const header = (msgType: string) => ({ msg_id: 'm1', username: 'kernel', session: 's1', date: '2025-01-02T03:04:05.678Z', msg_type: msgType, version: '5.5' });
const message = (msgType: string, content: unknown, extra: Record<string, unknown> = {}) => ({
  header: header(msgType),
  parent_header: { msg_id: 'p1', msg_type: 'execute_request' },
  metadata: {},
  content: content as Record<string, unknown>,
  ...extra,
});

test('messages that follow the spec have no problems', () => {
  const valid: Array<[string, unknown]> = [
    ['status', { execution_state: 'busy' }],
    ['stream', { name: 'stdout', text: 'hi\n' }],
    ['display_data', { data: { 'text/plain': 'x', 'application/vnd.plotly.v1+json': { data: [] } }, metadata: {}, transient: { display_id: 'd1' } }],
    ['display_data', { data: { 'text/plain': ['a\n', 'b'] }, metadata: {} }],
    ['update_display_data', { data: { 'text/plain': "'done'" }, metadata: {}, transient: { display_id: 'd1' } }],
    ['execute_result', { execution_count: 3, data: { 'text/plain': '6' }, metadata: {} }],
    ['execute_input', { code: '1 + 1', execution_count: 1 }],
    ['error', { ename: 'TypeError', evalue: 'bad', traceback: ['TypeError: bad'] }],
    ['clear_output', { wait: false }],
    ['comm_open', { comm_id: 'c1', target_name: 't', data: {} }],
    ['comm_msg', { comm_id: 'c1', data: { n: 1 } }],
    ['comm_close', { comm_id: 'c1', data: {} }],
    ['input_request', { prompt: 'name: ', password: false }],
    ['execute_reply', { status: 'ok', execution_count: 1, payload: [], user_expressions: {} }],
    ['execute_reply', { status: 'error', execution_count: 2, ename: 'Error', evalue: 'x', traceback: [] }],
    ['execute_reply', { status: 'aborted', execution_count: null }],
    ['complete_reply', { status: 'ok', matches: ['PI'], cursor_start: 5, cursor_end: 6, metadata: {} }],
    ['inspect_reply', { status: 'ok', found: false, data: {}, metadata: {} }],
    ['history_reply', { status: 'ok', history: [[1, 1, 'a'], [1, 2, ['b', null]]] }],
    ['is_complete_reply', { status: 'incomplete', indent: '  ' }],
    ['kernel_info_reply', { status: 'ok', protocol_version: '5.5', implementation: 'opsbook', language_info: { name: 'typescript' }, banner: '' }],
    ['comm_info_reply', { status: 'ok', comms: { c1: { target_name: 't' } } }],
    ['shutdown_reply', { status: 'ok', restart: false }],
    ['interrupt_reply', { status: 'ok' }],
    ['some_future_type', { anything: 1 }],
  ];
  for (const [msgType, content] of valid) expect({ msgType, problems: messageProblems(message(msgType, content)) }).toEqual({ msgType, problems: [] });
});

test('a bundle whose data is not an object of mime type → string is named', () => {
  expect(messageProblems(message('update_display_data', { data: 'done', metadata: {}, transient: { display_id: 'd1' } }))).toEqual([
    'content.data must be an object of mime type → value (a mime bundle), got "done"',
  ]);
  expect(messageProblems(message('display_data', { data: { service: 'api' }, metadata: {} }))).toEqual(['content.data has a key that is not a mime type: "service"']);
  expect(messageProblems(message('execute_result', { execution_count: 1, data: { 'text/plain': 42 }, metadata: {} }))).toEqual(['content.data["text/plain"] must be a string, got 42']);
  expect(messageProblems(message('display_data', { data: { 'text/plain': 'x' }, metadata: [] }))).toEqual(['content.metadata must be an object, got []']);
});

test('missing and mistyped fields, unknown statuses and broken headers are named', () => {
  expect(messageProblems(message('update_display_data', { data: {}, metadata: {}, transient: {} }))).toEqual(['content.transient.display_id is missing']);
  expect(messageProblems(message('stream', { name: 'stdlog', text: 1 }))).toEqual(['content.name must be one of "stdout", "stderr", got "stdlog"', 'content.text must be a string, got 1']);
  expect(messageProblems(message('input_request', { prompt: '', password: 0 }))).toEqual(['content.password must be a boolean, got 0']);
  expect(messageProblems(message('execute_input', { code: 'x', execution_count: 1.5 }))).toEqual(['content.execution_count must be an integer, got 1.5']);
  expect(messageProblems(message('complete_reply', { status: 'fine' }))).toEqual(['content.status must be "ok", "error" or "aborted", got "fine"']);
  expect(messageProblems(message('execute_reply', { status: 'error', ename: 'E' }))).toEqual(['content.evalue is missing', 'content.traceback is missing']);
  expect(messageProblems(message('status', { execution_state: 'idle' }, { header: { ...header('status'), date: 'yesterday' } }))).toEqual(['header.date must be an ISO 8601 date, got "yesterday"']);
  expect(messageProblems(message('status', 'idle'))).toEqual(['content must be an object, got "idle"']);
});
