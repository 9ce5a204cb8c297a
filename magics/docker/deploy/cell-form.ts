// %%deploy, the cell form of %deploy (pure): the first line names the service (and may hold options), the lines below
// hold the rest, one item a line, so a long rollout reads as a list instead of one line with quoted PromQL:
//   %%deploy api --yes
//   image shop/api:${version}
//   -p 8080:8080
//   --strategy canary
//   --steps 10%:2m,50%:2m,100%
//   # the analyses: PromQL as written, no quotes
//   errors: sum(rate(http_requests_total{service='api',code=~'5..'}[1m])) / sum(rate(http_requests_total{service='api'}[1m])) < 0.01
// A line is an option line (it starts with `-`, words as on the magic line), the image (`image REF`), or an analysis
// (anything else, as --analysis takes it). Blank lines and `#` comments are skipped. `${expr}` was already
// interpolated by the kernel, as in every magic's text. The result is what the line form's options would have been.
import { UsageError } from '../../../kernel/io/errors';
import { OptionSpec, ParsedArgs, parseWords } from '../../options';
import { tokenize } from '../../tokenize';

export const CELL_USAGE = '%%deploy <service> [options], then one item a line: image REF, --option value, or an analysis "name: <PromQL> <op> <threshold>"';

const IMAGE_LINE = /^image(?:\s+(\S*))?\s*$/;

/** What the cell asks for, as the line form has it: the image and the options (the service is --name). */
export interface DeployCell {
  image: string;
  options: Record<string, unknown>;
}

/** A usage error about one line of the cell (numbered as the notebook shows them: the %%deploy line is 1). */
function lineError(lineNo: number, message: string, hint = CELL_USAGE): UsageError {
  return new UsageError(`%%deploy line ${lineNo}: ${message}`, hint);
}

/** The words of an option line, checked alone so a mistake is reported with its line. */
function optionWords(line: string, lineNo: number, spec: OptionSpec): string[] {
  let words: string[];
  let parsed: ParsedArgs;
  try {
    words = tokenize(line);
    parsed = parseWords('deploy', spec, words);
  } catch (e) {
    if (e instanceof UsageError) throw lineError(lineNo, e.message.replace(/^%deploy: /, ''), e.hint);
    throw e;
  }
  if (parsed.rest !== '') throw lineError(lineNo, `"${parsed.rest}" is not an option; write one option a line (--steps 10%:2m,100%), the image as "image REF"`);
  return words;
}

/**
 * The cell's first line (parsed by the registry: its positional word is the service) and body → the image and the
 * options of the equivalent line form. Throws UsageError naming the line.
 */
export function deployCellOf(first: ParsedArgs, body: string, spec: OptionSpec): DeployCell {
  const service = first.rest.trim();
  if (service === '') throw new UsageError('%%deploy: name the service on the first line: %%deploy api', CELL_USAGE);
  if (/\s/.test(service)) throw new UsageError(`%%deploy: the first line names one service, not "${service}"; the image goes below it: image REF`, CELL_USAGE);
  if (first.options.name !== undefined) throw new UsageError(`%%deploy: the service is named by the first line's word (${service}), not by --name`, CELL_USAGE);
  const words = [...first.words];
  const analyses: string[] = [];
  let image: string | undefined;
  body.split('\n').forEach((raw, index) => {
    const lineNo = index + 2;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('-')) {
      words.push(...optionWords(line, lineNo, spec));
      return;
    }
    const imageLine = IMAGE_LINE.exec(line);
    if (imageLine) {
      if (!imageLine[1]) throw lineError(lineNo, 'an image line names the image: image shop/api:2');
      if (image !== undefined) throw lineError(lineNo, `a second image (${imageLine[1]}); the cell deploys one, ${image}`);
      image = imageLine[1];
      return;
    }
    analyses.push(line);
  });
  let options: Record<string, unknown>;
  try {
    options = parseWords('deploy', spec, words).options;
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(e.message.replace(/^%deploy: /, '%%deploy: '), e.hint);
    throw e;
  }
  if (analyses.length > 0) options.analysis = [...(Array.isArray(options.analysis) ? options.analysis : []), ...analyses];
  options.name = service;
  if (image === undefined && options.cleanup !== true) throw new UsageError(`%%deploy ${service}: no image line below the first (image shop/api:2)`, CELL_USAGE);
  return { image: image ?? '', options };
}
