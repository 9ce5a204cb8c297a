// Splits a magic's argument text into words, quoting like a shell where a word starts with a quote
// (`--legend "{{instance}} {{code}}"` gives the option one word without the quotes), but keeping quotes that
// appear inside a word, and the spaces between them, untouched: PromQL such as `{path="/a b"}` and
// `rate(x{job="api"}[5m])` must reach Prometheus exactly as typed. No shell library keeps those intact (they
// strip inner quotes and treat `(` as an operator), hence this small scanner.
import { UsageError } from '../kernel/io/errors';

export function tokenize(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i])) i++;
    if (i >= n) break;
    let word = '';
    const first = text[i];
    if (first === '"' || first === "'") {
      // a quoted word: quotes removed, backslash escapes inside double quotes, like sh
      const close = first;
      i++;
      let closed = false;
      while (i < n) {
        const c = text[i];
        if (c === close) {
          closed = true;
          i++;
          break;
        }
        if (c === '\\' && close === '"' && i + 1 < n && /["\\$`]/.test(text[i + 1])) {
          word += text[i + 1];
          i += 2;
          continue;
        }
        word += c;
        i++;
      }
      if (!closed) throw new UsageError(`unterminated ${close === '"' ? 'double' : 'single'} quote in: ${text.trim()}`);
      // `"a b"c` continues the same word, as in sh
      while (i < n && !/\s/.test(text[i])) word += text[i++];
      words.push(word);
      continue;
    }
    // a bare word: ends at whitespace outside quotes; quotes inside are kept with what they enclose
    let quote: string | undefined;
    while (i < n) {
      const c = text[i];
      if (quote) {
        if (c === '\\' && i + 1 < n) {
          word += c + text[i + 1];
          i += 2;
          continue;
        }
        if (c === quote) quote = undefined;
      } else if (/\s/.test(c)) break;
      else if (c === '"' || c === "'" || c === '`') quote = c;
      word += c;
      i++;
    }
    if (quote) throw new UsageError(`unterminated quote (${quote}) in: ${text.trim()}`);
    words.push(word);
  }
  return words;
}
