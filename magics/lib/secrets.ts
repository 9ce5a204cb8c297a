// Secrets in magic lines: a value is never written in the line, only the NAME of the environment variable that holds
// it (`K=ENVVAR`: --secret-env, --secret-build-arg), and every value read that way is masked as *** wherever the
// magic shows text (progress, logs, errors, audit lines).
import { MagicError, UsageError } from '../../kernel/io/errors';

/** One `K=ENVVAR` option value, resolved. */
export interface SecretRef {
  key: string;
  variable: string;
  value: string;
}

const NAME = '[A-Za-z_][A-Za-z0-9_]*';

/**
 * The `K=ENVVAR` values of a repeatable option, each read from `env`. A value that is not two names is a usage
 * error that shows only the key (the user may have pasted the secret itself); an unset variable is a MagicError.
 */
export function secretRefs(values: unknown, option: string, env: NodeJS.ProcessEnv): SecretRef[] {
  if (!Array.isArray(values)) return [];
  return values.map((v) => {
    const text = String(v);
    const m = new RegExp(`^(${NAME})=(${NAME})$`).exec(text);
    if (!m) throw new UsageError(`${option} takes KEY=ENVVAR (the NAME of an environment variable), not "${text.split('=')[0]}"`);
    const value = env[m[2]];
    if (value === undefined) throw new MagicError(`${option} ${m[1]}: environment variable ${m[2]} is not set`, `export ${m[2]} before starting the kernel`);
    return { key: m[1], variable: m[2], value };
  });
}

/** Replaces every secret value in a text with ***, longest first (so one value inside another is still hidden). */
export function masker(secrets: string[]): (text: string) => string {
  const values = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (values.length === 0) return (text) => text;
  return (text) => values.reduce((out, secret) => out.split(secret).join('***'), text);
}
