// The handler table: what each request means. Plumbing (busy/idle, reply framing, queues) is the
// dispatcher's; language work is the executor's. Handlers return plain reply content.
import type { Message } from './protocol/messages';
import type { Handler, Reply } from './dispatcher';
import type { ExecutorClient } from './executor/client';
import type { History } from './history';
import { kernelInfo } from './kernel-info';

export interface KernelState {
  executionCount: number;
}

export interface HandlerDeps {
  executor: ExecutorClient;
  history: History;
  state: KernelState;
  /** Publishes on IOPub with `parent` as parent header. */
  publish(parent: Message, msgType: string, content: Record<string, unknown>): void;
  /** Remembers which request owns output the executor sends back under this id. */
  track(parent: Message): string;
  shutdown(restart: boolean): void;
  /** Counts an executed cell by its reply status (kernel/metrics.ts). */
  countCell(status: string): void;
}

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function bool(v: unknown, fallback: boolean): boolean {
  return typeof v === 'boolean' ? v : fallback;
}

function int(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : fallback;
}

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

export function createHandlers(deps: HandlerDeps): Record<string, Handler> {
  const { executor, history, state } = deps;
  const ask = async (message: Message, type: 'complete' | 'inspect' | 'is_complete' | 'comm_info', fields: Record<string, unknown>): Promise<Reply> => ({
    content: await executor.request(type, deps.track(message), fields as never),
  });

  return {
    kernel_info_request: () => ({ content: kernelInfo() }),

    async execute_request(message) {
      const c = message.content;
      const code = str(c.code);
      const silent = bool(c.silent, false);
      const storeHistory = silent ? false : bool(c.store_history, true);
      if (storeHistory) state.executionCount += 1;
      const count = state.executionCount;
      // The cell is posted first so the worker starts while execute_input goes out; the worker's output can only
      // be published after this handler returns to the event loop, so execute_input still comes first.
      const reply = executor.execute(deps.track(message), {
        code,
        silent,
        allowStdin: bool(c.allow_stdin, true),
        executionCount: count,
        userExpressions: stringRecord(c.user_expressions),
        cellId: typeof message.metadata.cellId === 'string' ? message.metadata.cellId : undefined,
      });
      if (!silent) deps.publish(message, 'execute_input', { code, execution_count: count });
      // The cell's history line, all here: its input as it starts, then the text of the value it showed, if any.
      if (storeHistory) history.add(count, code);
      const { content, result } = await reply;
      const shown = (result?.data as Record<string, unknown> | undefined)?.['text/plain'];
      if (storeHistory && typeof shown === 'string') history.recordOutput(count, shown);
      if (!silent) deps.countCell(String(content.status));
      return { content: { ...content, execution_count: count }, metadata: { started: message.header.date } };
    },

    complete_request: (m) => ask(m, 'complete', { code: str(m.content.code), cursor: int(m.content.cursor_pos, str(m.content.code).length) }),
    inspect_request: (m) => ask(m, 'inspect', { code: str(m.content.code), cursor: int(m.content.cursor_pos, 0), detailLevel: int(m.content.detail_level, 0) }),
    is_complete_request: (m) => ask(m, 'is_complete', { code: str(m.content.code) }),
    comm_info_request: (m) => ask(m, 'comm_info', { targetName: typeof m.content.target_name === 'string' ? m.content.target_name : undefined }),

    async history_request(m) {
      await history.loaded(); // earlier sessions are read once, in the background, at start
      return { content: { status: 'ok', history: history.query(m.content) } };
    },

    async comm_open(m) {
      await executor.request('comm', deps.track(m), { msgType: 'comm_open', content: m.content });
    },
    async comm_msg(m) {
      await executor.request('comm', deps.track(m), { msgType: 'comm_msg', content: m.content });
    },
    async comm_close(m) {
      await executor.request('comm', deps.track(m), { msgType: 'comm_close', content: m.content });
    },

    async interrupt_request() {
      await executor.interrupt();
      return { content: { status: 'ok' } };
    },

    shutdown_request(m) {
      const restart = bool(m.content.restart, false);
      deps.publish(m, 'shutdown_reply', { status: 'ok', restart });
      setImmediate(() => deps.shutdown(restart));
      return { content: { status: 'ok', restart } };
    },
  };
}
