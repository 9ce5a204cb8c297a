// The confirmation before a deploy or rollback (--confirm, or a service in OPSBOOK_PROTECTED_SERVICES): asked
// through the notebook's input; a run that cannot ask (headless, no stdin) fails unless --yes was given, and never
// counts as a success.
import { MagicError } from '../../../kernel/io/errors';
import type { MagicCall } from '../../registry';
import type { DeploySpec } from './spec';

export async function confirmDeploy(call: MagicCall, spec: DeploySpec): Promise<void> {
  if (call.args.options.yes === true) return;
  let answer: string;
  try {
    answer = await call.io.input(`${spec.kind === 'rollback' ? 'Roll back' : 'Deploy'} ${spec.image} to ${spec.service}? [y/N] `);
  } catch {
    throw new MagicError(`%${spec.kind} needs a confirmation and this run cannot ask (no stdin, e.g. a headless run)`, 'pass --yes (with papermill: as a parameter) to deploy without asking');
  }
  if (!/^y(es)?$/i.test(answer.trim())) throw new MagicError(`${spec.kind} of ${spec.image} to ${spec.service} cancelled at the prompt`);
}
