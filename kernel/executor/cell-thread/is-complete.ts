// is_complete_request: whether a cell parses, needs more lines (and their indent), or is invalid.
import { parseCell, CellSyntaxError } from './cell-rewrite';

export function isComplete(code: string): { status: 'complete' | 'incomplete' | 'invalid'; indent?: string } {
  if (code.trim() === '') return { status: 'complete' };
  try {
    parseCell(code);
    return { status: 'complete' };
  } catch (e) {
    if (!(e instanceof CellSyntaxError)) return { status: 'invalid' };
    const lines = code.split('\n');
    const atEnd = e.line === lines.length && e.column - 1 >= lines[lines.length - 1].length;
    const unterminated = /Unterminated (template|comment)/.test(e.message);
    if (atEnd || unterminated) {
      const lastIndent = /^\s*/.exec(lines[lines.length - 1])?.[0] ?? '';
      const opens = /[{([]\s*$/.test(lines[lines.length - 1]);
      return { status: 'incomplete', indent: opens ? `${lastIndent}  ` : lastIndent };
    }
    return { status: 'invalid' };
  }
}
