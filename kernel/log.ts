// Kernel diagnostics go to stderr (the frontend's kernel log), never to the notebook.
const levels = { error: 0, warn: 1, info: 2, debug: 3 } as const;
type Level = keyof typeof levels;
const threshold = levels[(process.env.OPSBOOK_LOG_LEVEL as Level) ?? 'warn'] ?? levels.warn;

function write(level: Level, message: string): void {
  if (levels[level] <= threshold) process.stderr.write(`[opsbook ${level}] ${message}\n`);
}

export const log = {
  error: (m: string) => write('error', m),
  warn: (m: string) => write('warn', m),
  info: (m: string) => write('info', m),
  debug: (m: string) => write('debug', m),
};
